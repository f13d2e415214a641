"""One-off clips for tests: a room, people, faults, a clock, in one call.

from pipeline.samples.clips import make_clip
from pipeline.samples.faults import Frozen
make_clip(tmp / "cam01_20220315T080000.mp4", 60, people="class", faults=(Frozen(20, 15),))
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline.samples import people as people_mod
from pipeline.samples.centre import _people_expected, _shots
from pipeline.samples.dayplan import FPS, GOP_S, TIMEZONE, CameraSpec, SessionSpec
from pipeline.samples.faults import Expected, Fault, Reuse, SegmentGap, timeline
from pipeline.samples.render import render_shots, write_clip
from pipeline.samples.scene import Scene, _stable_int, draw_room


def make_clip(
    path: Path,
    duration_s: float,
    *,
    room: str = "theory",
    people: str = "empty",
    faults: Sequence[Fault] = (),
    size: tuple[int, int] = (640, 360),
    seed: int = 0,
    start: datetime | None = None,
    noise_sigma: float = 2.5,
    drift_amplitude: float = 4.0,
) -> tuple[Path, list[Expected]]:
    """Render and encode one clip like a sample-centre file; returns the path and the findings
    its faults and people imply (session offsets in seconds, as ``faults.Expected``).

    ``room``: 'theory' or 'practical' (equipment station); ``people``: a script name from
    ``people.SCRIPTS`` ('empty', 'class', 'proctor_leaves', 'practical_hands_on',
    'practical_qa'); ``faults``: any of pipeline.samples.faults except SegmentGap/Reuse (which
    need several files or another session); ``start``: local time of the first frame (the
    clock reading), default 2022-03-15 08:00:00 Asia/Shanghai.
    """
    faults = tuple(faults)
    if any(isinstance(f, SegmentGap | Reuse) for f in faults):
        raise ValueError("make_clip writes one file: SegmentGap and Reuse need generate()")
    tz = ZoneInfo(TIMEZONE)
    start = (start or datetime(2022, 3, 15, 8, 0, 0, tzinfo=tz)).astimezone(tz)
    width, height = size
    cam = CameraSpec("clip", "clip", room, width=width, height=height)
    spec = SessionSpec(
        "clip", "clip", room, "clip", start.strftime("%H:%M:%S"), people, faults, duration_s
    )
    scene = Scene(
        draw_room(width, height, room),
        fps=FPS,
        seed=_stable_int("clip-scene", seed),
        noise_sigma=noise_sigma,
        drift_amplitude=drift_amplitude,
        actors=people_mod.cast(people, _stable_int("clip-cast", seed)),
    )
    plans = timeline(faults, duration_s, FPS)
    if not plans:
        raise ValueError("faults leave nothing to record")
    (plan,) = plans
    write_clip(
        path,
        render_shots(_shots(plan, scene, start, cam, seed), size),
        fps=FPS,
        gop_s=GOP_S,
        size=size,
        pts=[slot.pts for slot in plan.slots],
    )
    from pipeline.samples.faults import expected

    found = expected(faults, duration_s, plans, start) + _people_expected(spec, cam, plans, scene)
    return Path(path), found
