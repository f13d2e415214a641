"""Tiny synthetic exam-room clips for the integrity tests (helpers, plus a sanity test).

A clip is a function of file time ``t`` -> what the camera saw: the content time (so footage
can be repeated), the view (the camera turned), black or frozen stretches and the burned-in
clock. Content is deterministic in content time (people's paths and sensor noise included),
so repeated footage repeats exactly what was recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from pipeline.samples.clock import clock_patch


@dataclass(frozen=True)
class Shot:
    """What the camera shows at one instant."""

    content_t: float
    view: int = 0
    black: bool = False
    frozen: bool = False
    clock: datetime | None = None  # local time to burn in (it keeps ticking when frozen)


CLOCK_REGION = (0.02, 0.03, 0.6, 0.09)  # normalised x, y, w, h of the clock box


def room(view: int, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A room seen from view ``view``: walls, a window and rows of desks (BGR)."""
    w, h = size
    rng = np.random.default_rng(seed * 100 + view)
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = (150, 160, 170) if view == 0 else (90, 120, 80)
    img[int(0.62 * h) :] = (110, 100, 95) if view == 0 else (60, 70, 140)
    if view == 0:
        cv2.rectangle(
            img, (int(0.05 * w), int(0.1 * h)), (int(0.3 * w), int(0.45 * h)), (230, 220, 200), -1
        )
        for r in range(3):
            for c in range(4):
                x = int((0.1 + 0.22 * c) * w)
                y = int((0.55 + 0.13 * r) * h)
                cv2.rectangle(
                    img, (x, y), (x + int(0.14 * w), y + int(0.06 * h)), (60, 80, 120), -1
                )
    else:
        for _ in range(6):
            x, y = rng.integers(0, w - 40), rng.integers(0, h - 40)
            cv2.circle(
                img,
                (int(x), int(y)),
                int(rng.integers(10, 40)),
                tuple(int(c) for c in rng.integers(0, 255, 3)),
                -1,
            )
    return cv2.GaussianBlur(img, (5, 5), 0)


def render(
    shot: Shot,
    size: tuple[int, int],
    *,
    people: int,
    noise: float,
    drift: float,
    seed: int,
    fps: int,
    backgrounds: dict,
) -> np.ndarray:
    w, h = size
    base_view = 0 if shot.view == 2 else shot.view  # view 2: view 0 seen by a turned camera
    if base_view not in backgrounds:
        backgrounds[base_view] = room(base_view, size, seed)
    bg = backgrounds[base_view]
    if shot.black:
        frame = np.full((h, w, 3), 8, np.uint8)
    else:
        frame = bg.copy()
        t = shot.content_t
        for p in range(people):
            phase = 2 * np.pi * (p / max(people, 1))
            x = int((0.5 + 0.4 * np.sin(t / (6 + 2 * p) + phase)) * w)
            y = int((0.5 + 0.15 * np.cos(t / (9 + p) + phase)) * h)
            pw, ph = int(0.06 * w), int(0.3 * h)
            cv2.rectangle(
                frame,
                (x - pw // 2, y - ph // 2),
                (x + pw // 2, y + ph // 2),
                (40 + 30 * p, 50, 60),
                -1,
            )
            cv2.circle(frame, (x, y - ph // 2 - pw // 2), pw // 2, (120, 150, 190), -1)
        if shot.view == 2:  # panned by 14 % / 5 % of the frame and rolled 4 degrees
            m = cv2.getRotationMatrix2D((w / 2, h / 2), 4.0, 1.0)
            m[:, 2] += (0.14 * w, 0.05 * h)
            frame = cv2.warpAffine(frame, m, (w, h), borderMode=cv2.BORDER_REFLECT)
        gain = 1.0 + drift * np.sin(2 * np.pi * t / 120.0)
        frame = cv2.convertScaleAbs(frame, alpha=gain)
        if noise:
            frame = np.clip(
                frame + _noise(size, noise, seed, round(t * fps), backgrounds), 0, 255
            ).astype(np.uint8)
    return frame


def burn_clock(frame: np.ndarray, when: datetime, region=CLOCK_REGION) -> np.ndarray:
    """NVR-style clock: white text in a black box, drawn over whatever the camera shows."""
    h, w = frame.shape[:2]
    x, y, rw, rh = region
    x0, y0, bw, bh = int(x * w), int(y * h), int(rw * w), int(rh * h)
    text = when.strftime("%Y-%m-%d %H:%M:%S")
    box = cv2.cvtColor(clock_patch(text, bw, bh), cv2.COLOR_GRAY2BGR)
    out = frame.copy()
    out[y0 : y0 + bh, x0 : x0 + bw] = box
    return out


def _noise(size, sigma, seed, index, cache) -> np.ndarray:
    """Sensor noise of frame ``index``: a window of one of a few pre-drawn fields, chosen and
    offset by the frame index (different every frame, the same for the same content time)."""
    w, h = size
    key = ("noise", sigma, seed)
    if key not in cache:
        rng = np.random.default_rng(seed)
        cache[key] = np.round(rng.normal(0, sigma, (4, h + 64, w + 64, 3))).astype(np.int16)
    pick = np.random.default_rng([seed, index]).integers(0, 64, 3)
    return cache[key][pick[0] % 4, pick[1] : pick[1] + h, pick[2] : pick[2] + w]


def write_clip(
    path: Path,
    seconds: float,
    script: Callable[[float], Shot] | None = None,
    *,
    fps: int = 5,
    size: tuple[int, int] = (320, 180),
    gop_s: float = 2.0,
    people: int = 2,
    noise: float = 2.0,
    drift: float = 0.0,
    seed: int = 0,
    bframes: int = 0,
) -> Path:
    """Encode ``seconds`` of ``script(t)`` as H.264 (fixed GOP) into ``path``."""
    script = script or (lambda t: Shot(t))
    backgrounds: dict = {}
    last: np.ndarray | None = None
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.codec_context.gop_size = round(gop_s * fps)
        stream.codec_context.options = {
            "preset": "ultrafast" if not bframes else "veryfast",
            "threads": "1",
            "sc_threshold": "0",
            "keyint_min": str(round(gop_s * fps)),
            "bf": str(bframes),
        }
        stream.time_base = Fraction(1, fps)
        for i in range(round(seconds * fps)):
            shot = script(i / fps)
            if shot.frozen and last is not None:
                image = last
            else:
                image = render(
                    shot,
                    size,
                    people=people,
                    noise=noise,
                    drift=drift,
                    seed=seed,
                    fps=fps,
                    backgrounds=backgrounds,
                )
            last = image
            if shot.clock is not None:
                image = burn_clock(image, shot.clock)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def clock_script(start_local: datetime, *, cut_at: float | None = None, cut_s: float = 0.0):
    """A live room whose burned-in clock leaps ``cut_s`` at ``cut_at`` (footage cut out)."""

    def script(t: float) -> Shot:
        jump = cut_s if cut_at is not None and t >= cut_at else 0.0
        return Shot(t + jump, clock=start_local + timedelta(seconds=int(t + jump)))

    return script


def test_render_is_deterministic_in_content_time():
    args = dict(people=2, noise=2.0, drift=0.1, seed=3, fps=10)
    a = render(Shot(12.3), (64, 36), backgrounds={}, **args)
    b = render(Shot(12.3), (64, 36), backgrounds={}, **args)
    c = render(Shot(14.0), (64, 36), backgrounds={}, **args)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
