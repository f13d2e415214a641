"""Is a room in use? People per sample and the stretches where a room holds people.

The exam plan is checked against what the cameras saw (checklist item 3): an exam held at a
time the plan does not list, a planned exam whose room stayed empty, and, without any plan,
the sessions themselves. All three rest on the same two questions per sample: how many people
does the picture show (after the static look-alike filter, :mod:`pipeline.findings.static`),
and how many of them are candidates (the camera's ``candidate_zone`` when it has one, else
everyone outside the proctor zone)? A sample with no usable picture (black, frozen, turned
away) answers neither: it is unknown, never "empty".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from pipeline.findings.static import drop_static_lookalikes
from pipeline.inputs.config import Camera, Rules
from pipeline.intervals import runs, subtract, union


def _counts(timeline: pa.Table, name: str) -> np.ndarray:
    if name not in timeline.column_names:
        return np.full(timeline.num_rows, np.nan)
    return np.asarray(timeline[name].to_numpy(zero_copy_only=False), dtype=np.float64)


def epoch_s(timeline: pa.Table) -> np.ndarray:
    return timeline["t"].cast(pa.int64()).to_numpy(zero_copy_only=False) / 1000.0


def people(timeline: pa.Table) -> np.ndarray:
    """People in the whole picture per sample (NaN: not measured)."""
    return _counts(timeline, "persons")


def candidates(timeline: pa.Table) -> np.ndarray:
    """Candidates per sample: the candidate zone's count where the camera has one, else the
    people outside the proctor zone (NaN: not measured)."""
    zone = _counts(timeline, "persons_in_candidate_zone")
    if np.isfinite(zone).any():
        return zone
    return np.maximum(people(timeline) - _counts(timeline, "persons_in_proctor_zone"), 0.0)


def unknown_mask(t: np.ndarray, unusable: Sequence[tuple[float, float]]) -> np.ndarray:
    """Samples inside a span whose picture shows nothing (epoch-second spans)."""
    out = np.zeros(len(t), dtype=bool)
    for a, b in union(unusable):
        out |= (t >= a) & (t < b)
    return out


@dataclass(frozen=True)
class Stretch:
    """A stretch of samples where a room held at least some number of people."""

    camera_id: str
    start: datetime
    end: datetime
    people: int  # median people count over the stretch
    peak: int
    samples: int
    brackets: tuple[float, float]  # coarse step at the start and the end (s)


def occupied(
    timeline: pa.Table,
    camera: Camera,
    *,
    min_people: int,
    min_s: float,
    bridge_s: float,
    anchor: str = "bottom_center",
    skip: Sequence[tuple[float, float]] = (),
    rules: Rules | None = None,
) -> list[Stretch]:
    """Stretches of one camera's samples with at least ``min_people`` people for ``min_s``.

    Misses shorter than ``bridge_s`` (a person hidden for a while, a black picture, a
    recording gap) are bridged; samples inside ``skip`` spans (epoch s) are left out.
    """
    if timeline.num_rows == 0:
        return []
    timeline = timeline.sort_by("t")
    timeline, _ = drop_static_lookalikes(timeline, camera, anchor, rules)
    t = epoch_s(timeline)
    n = people(timeline)
    keep = np.isfinite(n) & ~unknown_mask(t, skip)
    t, n = t[keep], n[keep]
    if not len(t):
        return []
    steps = np.diff(t)
    out = []
    for a, b in runs(t, n >= min_people, min_s=min_s, bridge_s=bridge_s, max_step_s=bridge_s):
        inside = (t >= a) & (t < b)
        k = np.flatnonzero(inside)
        before = float(steps[k[0] - 1]) if k[0] > 0 else 0.0
        after = float(steps[k[-1]]) if k[-1] < len(steps) else 0.0
        out.append(
            Stretch(
                camera_id=camera.camera_id,
                start=datetime.fromtimestamp(a, UTC),
                end=datetime.fromtimestamp(b, UTC),
                people=int(np.median(n[inside])),
                peak=int(n[inside].max()),
                samples=int(inside.sum()),
                brackets=(before, after),
            )
        )
    return out


def outside(
    windows: Sequence[tuple[float, float]], stretch: tuple[float, float]
) -> list[tuple[float, float]]:
    """The parts of ``stretch`` outside every scheduled window (epoch seconds)."""
    return subtract([stretch], windows)
