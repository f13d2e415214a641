"""Synthetic exam rooms: a static background, per-frame sensor noise and slow lighting drift.

Frames are produced as I420 (yuv420p) arrays ready for the encoder. The background is drawn
once in *limited-range* BGR (16-235), so OpenCV's plain BT.601 conversion yields studio-range
YUV as decoders expect. Noise comes from a small pool of precomputed fields chosen by a hash of
(scene seed, frame index): rendering the same scene frame twice gives identical pixels, which
is what looped or re-used footage needs, while neighbouring frames differ like a real sensor.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

RoomKind = str  # "theory" or "practical"

# Zones in normalised coordinates (site.toml polygons).
# the front of a theory room, the invigilator's desk included (seated, the desk's top edge at
# y 0.51 is where the visible body ends)
THEORY_PROCTOR_ZONE = ((0.22, 0.44), (0.78, 0.44), (0.78, 0.88), (0.22, 0.88))
# where the candidates of a theory room sit: both desk blocks, joined along the bottom edge
# (one polygon) below the centre aisle the invigilator walks
CANDIDATE_ZONE = (
    (0.0, 0.76),
    (0.31, 0.76),
    (0.31, 0.97),
    (0.69, 0.97),
    (0.69, 0.76),
    (1.0, 0.76),
    (1.0, 1.0),
    (0.0, 1.0),
)
PRACTICAL_PROCTOR_ZONE = ((0.18, 0.50), (0.56, 0.50), (0.56, 0.88), (0.18, 0.88))
STATION_ZONE = ((0.60, 0.28), (0.98, 0.28), (0.98, 0.98), (0.60, 0.98))
# The equipment cabinet drawn inside STATION_ZONE (x0, y0, x1, y1).
STATION_BOX = (0.68, 0.22, 0.95, 0.66)

NOISE_POOL = 31
NOISE_ROWS = 48  # each pool field is this much taller; a per-frame row offset picks a window


def _limited(bgr: np.ndarray) -> np.ndarray:
    """Full-range BGR -> limited range (16-235)."""
    return cv2.convertScaleAbs(bgr, alpha=219 / 255, beta=16)


def _stable_int(*parts: object) -> int:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def draw_room(width: int, height: int, kind: RoomKind = "theory", variant: int = 0) -> np.ndarray:
    """A static exam room (limited-range BGR): wall, blackboard, window, door, desks.

    ``variant`` tints the walls so different rooms are distinguishable; ``kind='practical'``
    adds an equipment station inside STATION_ZONE.
    """
    w, h = width, height

    def px(x: float, y: float) -> tuple[int, int]:
        return round(x * w), round(y * h)

    def rect(x0, y0, x1, y1, colour, thickness=-1):
        cv2.rectangle(img, px(x0, y0), px(x1, y1), colour, thickness, cv2.LINE_AA)

    rng = np.random.default_rng(_stable_int("room", kind, variant))
    wall = np.array(
        [(196, 210, 220), (200, 214, 205), (215, 205, 200), (190, 200, 215)][variant % 4]
    )
    img = np.empty((h, w, 3), np.uint8)
    img[:] = wall
    floor_y = 0.55
    img[int(floor_y * h) :] = (120, 135, 150)
    # floor boards / perspective lines give the view some structure
    for i in range(-6, 14):
        cv2.line(
            img, px(0.5 + i * 0.02, floor_y), px(0.5 + (i - 4) * 0.11, 1.0), (105, 118, 132), 1
        )
    rect(0.0, floor_y - 0.01, 1.0, floor_y + 0.01, (90, 100, 110))
    # blackboard with chalk marks
    rect(0.27, 0.12, 0.63 if kind == "practical" else 0.73, 0.42, (60, 85, 45))
    rect(0.27, 0.12, 0.63 if kind == "practical" else 0.73, 0.42, (40, 60, 90), max(1, h // 120))
    for _ in range(6):
        x0, y0 = rng.uniform(0.30, 0.55), rng.uniform(0.16, 0.38)
        cv2.line(
            img, px(x0, y0), px(x0 + rng.uniform(0.03, 0.08), y0), (200, 210, 205), max(1, h // 240)
        )
    # door on the left (people enter and leave here)
    rect(0.03, 0.16, 0.14, 0.56, (50, 80, 120))
    cv2.circle(img, px(0.125, 0.37), max(2, h // 90), (40, 170, 200), -1)
    # window on the right wall (the light source)
    if kind == "practical":
        rect(0.80, 0.04, 0.97, 0.20, (245, 235, 215))
        rect(0.80, 0.04, 0.97, 0.20, (150, 150, 150), max(1, h // 150))
    else:
        rect(0.80, 0.08, 0.97, 0.45, (245, 235, 215))
        rect(0.80, 0.08, 0.97, 0.45, (150, 150, 150), max(1, h // 150))
        cv2.line(img, px(0.885, 0.08), px(0.885, 0.45), (150, 150, 150), max(1, h // 150))
    # teacher's desk at the front
    rect(
        0.60 if kind == "theory" else 0.44,
        0.50,
        0.74 if kind == "theory" else 0.58,
        0.60,
        (60, 95, 140),
    )
    if kind == "practical":
        # equipment station: a cabinet with lamps and switches, and a bench in front
        x0, y0, x1, y1 = STATION_BOX
        rect(x0, y0, x1, y1, (150, 155, 160))
        rect(x0, y0, x1, y1, (80, 80, 80), max(1, h // 150))
        for r in range(3):
            for c in range(4):
                cx, cy = x0 + (c + 0.7) * (x1 - x0) / 4.6, y0 + (r + 0.8) * (y1 - y0) / 3.6
                colour = [(40, 40, 200), (40, 200, 40), (40, 200, 220)][r]
                cv2.circle(img, px(cx, cy), max(2, h // 70), colour, -1, cv2.LINE_AA)
        rect(0.64, 0.66, 0.98, 0.74, (70, 100, 140))
    # candidate desks in the foreground, left and right of the centre aisle
    sides = [(0.0, 0.30)] if kind == "practical" else [(0.0, 0.30), (0.70, 1.0)]
    for a, b in sides:
        for y0 in (0.80, 0.93):
            rect(a + 0.01, y0, b - 0.01, y0 + 0.05, (70, 105, 150))
            rect(a + 0.01, y0, b - 0.01, y0 + 0.05, (45, 65, 95), 1)
    # fixed-pattern texture: cameras never see perfectly flat walls
    texture = cv2.resize(rng.normal(0, 3.0, (h // 8, w // 8)).astype(np.float32), (w, h))
    img = np.clip(img.astype(np.float32) + texture[..., None], 0, 255).astype(np.uint8)
    return _limited(img)


@lru_cache(maxsize=8)
def noise_pool(
    width: int, height: int, sigma: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative parts of NOISE_POOL luma noise fields (uint8, for saturating add)."""
    rng = np.random.default_rng(_stable_int("noise", width, height, sigma, seed))
    shape = (NOISE_POOL, height + NOISE_ROWS, width)
    fields_ = np.clip((rng.standard_normal(shape, dtype=np.float32) * sigma).round(), -60, 60)
    pos = np.clip(fields_, 0, None).astype(np.uint8)
    neg = np.clip(-fields_, 0, None).astype(np.uint8)
    pos.setflags(write=False)
    neg.setflags(write=False)
    return pos, neg


class Actor:
    """Something drawn into the scene at scene time t (seconds): people, moving equipment.

    ``key(t, size)`` names what ``draw`` would paint (equal keys, equal pixels), so a scene can
    reuse its last composite while nobody moves; ``anchor(t)`` is the normalised feet point
    (or None) that zone membership uses.
    """

    def key(self, t: float, size: tuple[int, int]) -> tuple:
        return (t,)

    def anchor(self, t: float) -> tuple[float, float] | None:
        return None

    def draw(self, canvas: np.ndarray, t: float) -> None:  # pragma: no cover - protocol
        raise NotImplementedError


@dataclass
class Scene:
    """A camera's view: background + actors + noise + lighting drift, rendered per frame.

    ``render(i)`` is a pure function of (scene, i, shift): the same index gives the same
    pixels. ``shift`` is an optional 2x3 affine matrix (camera turned, see turn_matrix).
    """

    background: np.ndarray  # limited-range BGR
    fps: int = 15
    seed: int = 0
    noise_sigma: float = 2.5
    drift_amplitude: float = 4.0  # luma levels
    actors: Sequence[Actor] = field(default_factory=tuple)
    _drift_phases: tuple[float, float, float] = field(init=False, repr=False)
    _bg_i420: np.ndarray = field(init=False, repr=False)
    _last: tuple = field(init=False, repr=False, default=((), None))

    def __post_init__(self) -> None:
        rng = np.random.default_rng(_stable_int("drift", self.seed))
        self._drift_phases = tuple(float(p) for p in rng.uniform(0, 2 * math.pi, 3))
        self._bg_i420 = cv2.cvtColor(self.background, cv2.COLOR_BGR2YUV_I420)

    @property
    def size(self) -> tuple[int, int]:
        return self.background.shape[1], self.background.shape[0]

    def drift(self, t: float) -> float:
        """Slow, non-periodic lighting change (clouds, daylight): luma offset at time t."""
        p = self._drift_phases
        a = self.drift_amplitude
        return a * (
            0.6 * math.sin(2 * math.pi * t / 97.0 + p[0])
            + 0.3 * math.sin(2 * math.pi * t / 41.3 + p[1])
            + 0.1 * math.sin(2 * math.pi * t / 13.7 + p[2])
        )

    def bgr(self, index: int, shift: np.ndarray | None = None) -> np.ndarray:
        """The camera image (limited-range BGR) before noise: background, actors, shift."""
        t = index / self.fps
        matrix = shift
        if not self.actors and matrix is None:
            return self.background
        key = tuple(actor.key(t, self.size) for actor in self.actors)
        if key == self._last[0]:
            canvas = self._last[1]
        else:
            canvas = self.background.copy()
            for actor in self.actors:
                actor.draw(canvas, t)
            canvas.setflags(write=False)
            self._last = (key, canvas)
        if matrix is not None:
            w, h = self.size
            canvas = cv2.warpAffine(canvas, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
        return canvas

    def render(self, index: int, shift: np.ndarray | None = None) -> np.ndarray:
        """I420 frame for scene frame ``index`` with sensor noise and lighting drift."""
        image = self.bgr(index, shift)
        i420 = (
            self._bg_i420.copy()
            if image is self.background
            else cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
        )
        self.add_noise(i420, index)
        return i420

    def add_noise(self, i420: np.ndarray, index: int) -> None:
        w, h = self.size
        luma = i420[:h]
        offset = self.drift(index / self.fps)
        if offset >= 0:
            cv2.add(luma, round(offset), dst=luma)
        else:
            cv2.subtract(luma, round(-offset), dst=luma)
        if self.noise_sigma > 0:
            pos, neg = noise_pool(w, h, self.noise_sigma)
            k, r = divmod(_stable_int(self.seed, index) % (NOISE_POOL * NOISE_ROWS), NOISE_ROWS)
            cv2.add(luma, pos[k, r : r + h], dst=luma)
            cv2.subtract(luma, neg[k, r : r + h], dst=luma)


def black_frame(
    width: int, height: int, index: int, seed: int = 0, sigma: float = 1.0
) -> np.ndarray:
    """A covered lens / video loss: near-black luma with faint sensor noise, neutral chroma."""
    i420 = np.empty((height * 3 // 2, width), np.uint8)
    i420[:height] = 17
    i420[height:] = 128
    if sigma > 0:
        pos, neg = noise_pool(width, height, sigma)
        k, r = divmod(_stable_int(seed, "black", index) % (NOISE_POOL * NOISE_ROWS), NOISE_ROWS)
        cv2.add(i420[:height], pos[k, r : r + height], dst=i420[:height])
        cv2.subtract(i420[:height], neg[k, r : r + height], dst=i420[:height])
    return i420


def turn_matrix(
    width: int, height: int, dx: float, dy: float, angle_deg: float = 0.0
) -> np.ndarray:
    """Affine matrix for a camera turned by (dx, dy) of the frame size plus a small roll."""
    m = cv2.getRotationMatrix2D((width / 2, height / 2), angle_deg, 1.0)
    m[0, 2] += dx * width
    m[1, 2] += dy * height
    return m
