"""People in the sample rooms: real cut-outs (see cutouts.py) moved along scripted paths.

A session names a *script* (``SCRIPTS``); the script builds the actors for a camera, seeded, so
the same seed gives the same walk. Positions are normalised feet points (bottom centre of the
person's box, the anchor the people analysers use for zone membership), so the ground truth
(who is in which zone when) follows from the very paths that are rendered.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from pipeline.samples.cutouts import load_people
from pipeline.samples.scene import STATION_BOX, Actor, _stable_int

PROCTOR_HEIGHT = 0.50  # person height as a fraction of the frame height (~180 px at 360)
SIT = 0.52  # seated: head to desk edge is about half the standing height
HORIZON_S = 900.0  # scripts are defined this far, so shifted content (clock cuts) stays valid


@dataclass(frozen=True)
class Waypoint:
    """Be at (x, y) at time t; between two waypoints walk in a straight line (or stay, when
    the points are equal). ``mode``: how the person moves while at rest: 'stand', 'work' or
    'sit' (behind a desk whose top edge is at y: only the upper body shows, and y is where
    the visible body ends, the point zone membership uses)."""

    t: float
    x: float
    y: float
    mode: str = "stand"
    facing: int = 1  # +1 right, -1 left (when at rest)


@lru_cache(maxsize=64)
def _cells(
    person_index: int, height_px: int, flip: bool
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """A person's frames scaled to ``height_px``: (premultiplied BGR float32, alpha float32)."""
    person = load_people()[person_index]
    out = []
    for cell in person.frames:
        scale = height_px / cell.shape[0]
        w = max(2, round(cell.shape[1] * scale))
        scaled = cv2.resize(cell, (w, height_px), interpolation=cv2.INTER_AREA)
        if flip:
            scaled = scaled[:, ::-1]
        alpha = scaled[..., 3:4].astype(np.float32) / 255.0
        out.append((scaled[..., :3].astype(np.float32) * alpha, alpha))
    return tuple(out)


def paste(
    canvas: np.ndarray,
    colour: np.ndarray,
    alpha: np.ndarray,
    x: int,
    y: int,
    rows: int | None = None,
) -> None:
    """Alpha-composite a premultiplied patch with its top-left at (x, y), clipped to the canvas;
    ``rows`` keeps only the top rows (a person sitting behind a desk)."""
    h, w = alpha.shape[:2]
    if rows is not None:
        h = min(h, rows)
    H, W = canvas.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x0 >= x1 or y0 >= y1:
        return
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    a = alpha[y0 - y : y1 - y, x0 - x : x1 - x]
    c = colour[y0 - y : y1 - y, x0 - x : x1 - x]
    canvas[y0:y1, x0:x1] = (region * (1.0 - a) + c).round().astype(np.uint8)


def _seated_pose(person_index: int, seed: int, t: float) -> tuple[int, int]:
    """Writing, looking up: a new pose and a small shift every few seconds (cell, dx px)."""
    person = load_people()[person_index]
    step = int((t + seed % 11) / 3.7)
    pick = _stable_int("pose", seed, step)
    return (person.stand + pick % 3 - 1) % len(person.frames), (pick // 3) % 5 - 2


@dataclass
class Walker(Actor):
    """A standing or walking person following waypoints."""

    person: int
    path: Sequence[Waypoint]
    height: float = PROCTOR_HEIGHT
    role: str = "proctor"
    seed: int = 0
    _times: list[float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._times = [w.t for w in self.path]

    def state(self, t: float) -> tuple[float, float, str, int]:
        """(x, y, mode, facing) at time t; mode is 'walk', 'stand' or 'work'."""
        path = self.path
        i = bisect.bisect_right(self._times, t) - 1
        if i < 0:
            w = path[0]
            return w.x, w.y, w.mode, w.facing
        if i >= len(path) - 1:
            w = path[-1]
            return w.x, w.y, w.mode, w.facing
        a, b = path[i], path[i + 1]
        if (a.x, a.y) == (b.x, b.y):
            return a.x, a.y, a.mode, a.facing
        f = (t - a.t) / (b.t - a.t)
        return a.x + f * (b.x - a.x), a.y + f * (b.y - a.y), "walk", 1 if b.x >= a.x else -1

    def anchor(self, t: float) -> tuple[float, float]:
        x, y, _, _ = self.state(t)
        return x, y

    def key(self, t: float, size: tuple[int, int]) -> tuple:
        """What draw() would paint at t: (cell, flip, x, y) in pixels."""
        W, H = size
        x, y, mode, facing = self.state(t)
        person = load_people()[self.person]
        n = len(person.frames)
        if mode == "walk":
            k = int(t * 25) % n  # the cut-outs are consecutive frames of a 25 fps clip
            sway = 0.0
        elif mode == "work":  # hands busy: shuffle through neighbouring poses, lean in and out
            k = (person.stand + (int(t * 5) % 5) - 2) % n
            sway = 4.0 * math.sin(t * 2.3 + self.seed % 7)
        elif mode == "sit":  # behind a desk: writing, looking up
            k, dx = _seated_pose(self.person, self.seed, t)
            sway = float(dx)
        else:  # standing: shift weight now and then
            k = person.stand
            sway = 2.0 * (_stable_int("weight", self.seed, int(t / 5.3)) % 3 - 1)
        height = max(8, round(self.height * H))
        w = _cells(self.person, height, False)[k][1].shape[1]
        top = round(y * H) - height
        rows = None
        if mode == "sit":  # the desk hides everything below its top edge at y
            top += round(SIT * height)
            rows = round(y * H) - top
        return (k, facing != person.facing, round(x * W - w / 2 + sway), top, height, rows)

    def draw(self, canvas: np.ndarray, t: float) -> None:
        H, W = canvas.shape[:2]
        k, flip, x, y, height, rows = self.key(t, (W, H))
        colour, alpha = _cells(self.person, height, flip)[k]
        paste(canvas, colour, alpha, x, y, rows=rows)


@dataclass
class Seated(Actor):
    """A candidate sitting behind a desk: only the upper body above the desk edge shows."""

    person: int
    x: float
    desk_y: float
    height: float = 0.46
    seed: int = 0
    role: str = "candidate"

    def anchor(self, t: float) -> tuple[float, float]:
        return self.x, self.desk_y

    def key(self, t: float, size: tuple[int, int]) -> tuple:
        W, H = size
        k, dx = _seated_pose(self.person, self.seed, t)
        height = max(8, round(self.height * H))
        w = _cells(self.person, height, False)[k][1].shape[1]
        top = round(self.desk_y * H) - height + round(SIT * height)
        return (
            k,
            bool(self.seed % 2),
            round(self.x * W - w / 2 + dx),
            top,
            height,
            round(self.desk_y * H) - top,
        )

    def draw(self, canvas: np.ndarray, t: float) -> None:
        H, W = canvas.shape[:2]
        k, flip, x, top, height, rows = self.key(t, (W, H))
        colour, alpha = _cells(self.person, height, flip)[k]
        paste(canvas, colour, alpha, x, top, rows=rows)


@dataclass
class PanelLamps(Actor):
    """Lamps on the equipment cabinet that toggle while someone operates it."""

    busy: Callable[[float], bool]
    seed: int = 0
    role: str = "equipment"

    def anchor(self, t: float) -> None:
        return None

    def key(self, t: float, size: tuple[int, int]) -> tuple:
        if not self.busy(t):
            return ()
        step = int(t * 1.5)
        return tuple(_stable_int("lamp", self.seed, step, lamp) % 2 for lamp in range(3))

    def draw(self, canvas: np.ndarray, t: float) -> None:
        H, W = canvas.shape[:2]
        x0, y0, x1, y1 = STATION_BOX
        for lamp, on in enumerate(self.key(t, (W, H))):
            if on:
                cx = x0 + (lamp + 0.7) * (x1 - x0) / 4.6
                cy = y0 + 2.8 * (y1 - y0) / 3.6
                cv2.circle(
                    canvas, (round(cx * W), round(cy * H)), max(2, H // 60), (230, 235, 235), -1
                )


# ---------------------------------------------------------------------------------------------
# scripts

PROCTOR, CANDIDATE_A, CANDIDATE_B, WORKER = 3, 0, 1, 2  # indices into load_people()


def _pacing(
    rng: np.random.Generator, x_range, y_range, start: float, end: float, x0=None, y0=None
) -> list[Waypoint]:
    """Non-periodic pacing: random stops with random pauses (a periodic walk would look like
    looped footage)."""
    x = float(rng.uniform(*x_range)) if x0 is None else x0
    y = float(rng.uniform(*y_range)) if y0 is None else y0
    t = start
    path = [Waypoint(t, x, y, facing=int(rng.choice([-1, 1])))]
    while t < end:
        pause = float(rng.uniform(4.0, 16.0))
        t += pause
        path.append(Waypoint(t, x, y, facing=path[-1].facing))
        nx, ny = float(rng.uniform(*x_range)), float(rng.uniform(*y_range))
        walk = max(1.0, math.hypot(nx - x, (ny - y) * 0.6) / 0.07)  # ~0.07 frame widths per second
        t += walk
        path.append(Waypoint(t, nx, ny, facing=1 if nx >= x else -1))
        x, y = nx, ny
    return path


def _seated_class(seed: int, practical: bool) -> list[Actor]:
    seats = (
        [(0.14, 0.80), (0.17, 0.93)]
        if practical
        # back row at the room's sides, front row nearer the aisle: nobody hides anybody
        else [(0.08, 0.80), (0.92, 0.80), (0.22, 0.93), (0.78, 0.93)]
    )
    people = [CANDIDATE_B, CANDIDATE_A, CANDIDATE_A, WORKER]
    return [
        Seated(people[i], x, y, height=0.42 if y < 0.9 else 0.48, seed=_stable_int("seat", seed, i))
        for i, (x, y) in enumerate(seats)
    ]


def _theory(seed: int) -> list[Actor]:
    """Proctor pacing at the front of a full theory room (rooms whose invigilator also sits
    at the desk, walks the aisle or leaves: pipeline.samples.invigilator)."""
    rng = np.random.default_rng(_stable_int("theory", seed))
    path = _dedupe(_pacing(rng, (0.34, 0.66), (0.74, 0.79), 0.0, HORIZON_S))
    return [Walker(PROCTOR, tuple(path), seed=seed), *_seated_class(seed, practical=False)]


def _dedupe(path: list[Waypoint]) -> list[Waypoint]:
    out: list[Waypoint] = []
    for w in path:
        if out and w.t <= out[-1].t:
            w = Waypoint(out[-1].t + 1e-3, w.x, w.y, w.mode, w.facing)
        out.append(w)
    return out


def _practical(seed: int, stop_work_at: float | None) -> list[Actor]:
    """Examiner in the proctor zone; a candidate working at the station (until ``stop_work_at``,
    then answering questions next to the examiner)."""
    rng = np.random.default_rng(_stable_int("practical", seed))
    examiner = _pacing(rng, (0.38, 0.52), (0.74, 0.79), 0.0, HORIZON_S)
    station = (0.80, 0.86)
    if stop_work_at is None:
        work = [
            Waypoint(0.0, *station, mode="work", facing=1),
            Waypoint(HORIZON_S, *station, mode="work", facing=1),
        ]
    else:
        work = [
            Waypoint(0.0, *station, mode="work", facing=1),
            Waypoint(stop_work_at, *station, mode="work", facing=1),
            Waypoint(stop_work_at + 7.0, 0.22, 0.86, facing=1),  # walks over to the examiner
            Waypoint(HORIZON_S, 0.22, 0.86, facing=1),
        ]
    worker = Walker(WORKER, tuple(work), height=0.50, role="candidate", seed=seed + 1)

    def busy(t: float) -> bool:
        return worker.state(t)[2] == "work"

    return [
        PanelLamps(busy, seed=seed),
        Walker(PROCTOR, tuple(_dedupe(examiner)), seed=seed),
        worker,
        *_seated_class(seed, practical=True)[:1],
    ]


SCRIPTS: dict[str, Callable[[int], list[Actor]]] = {
    "empty": lambda seed: [],
    "class": lambda seed: _theory(seed),
    "proctor_leaves": lambda seed: _staffed("proctor_leaves", seed),
    "proctor_seated": lambda seed: _staffed("proctor_seated", seed),
    "desk_and_aisle": lambda seed: _staffed("desk_and_aisle", seed),
    "walks_the_aisle": lambda seed: _staffed("walks_the_aisle", seed),
    "practical_hands_on": lambda seed: _practical(seed, None),
    "practical_qa": lambda seed: _practical(seed, 60.0),
}


def _staffed(script: str, seed: int) -> list[Actor]:
    """Rooms whose invigilator sits at the desk at times (pipeline.samples.invigilator)."""
    from pipeline.samples import invigilator

    return invigilator.script(script, seed)


def cast(script: str, seed: int) -> list[Actor]:
    """Actors for a people script (see SCRIPTS)."""
    try:
        return SCRIPTS[script](seed)
    except KeyError:
        raise ValueError(
            f"unknown people script {script!r} (known: {', '.join(SCRIPTS)})"
        ) from None


def in_zone(point: tuple[float, float] | None, polygon) -> bool:
    if point is None:
        return False
    contour = np.array(polygon, np.float32).reshape(-1, 1, 2)
    return cv2.pointPolygonTest(contour, (float(point[0]), float(point[1])), False) >= 0


def zone_runs(
    actors: Sequence[Actor],
    polygon,
    times: Sequence[float],
    roles: tuple[str, ...] | None = None,
    transform=None,
) -> list[bool]:
    """Per time: is some person's anchor inside ``polygon``? ``transform(i, point)`` maps an
    anchor for sample i (camera turned) or returns None (not visible)."""
    out = []
    for i, t in enumerate(times):
        hit = False
        for actor in actors:
            if roles is not None and getattr(actor, "role", None) not in roles:
                continue
            point = actor.anchor(t) if hasattr(actor, "anchor") else None
            if point is not None and transform is not None:
                point = transform(i, point)
            if in_zone(point, polygon):
                hit = True
                break
        out.append(hit)
    return out


def has_people(script: str) -> bool:
    return script != "empty"
