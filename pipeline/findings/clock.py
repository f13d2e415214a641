"""Clock jumps: the burned-in clock leaps, or disagrees with the file's time, by > max drift.

Per file, the OCR'd offsets (clock minus file timeline) are split into segments of steady
offset. Each step between segments is a ``clock_jump`` from that point for as long as the
clock stays off (footage cut out and the rest joined on: the clock leaps while the file
timeline runs on, and stays ahead until the file ends or the clock jumps again). A file
whose first segment is already off by more than the drift (its start time was altered)
gets one ``clock_jump`` over that segment. A lone read that disagrees with both neighbours,
which agree with each other, is an OCR misread and is ignored. Frozen and black samples are
skipped: a frozen picture stops the clock without anyone cutting the footage.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa

from pipeline.findings import SessionContext
from pipeline.findings.picture import (
    Bounds,
    SessionSamples,
    black_samples,
    column,
    make_event,
    utc,
)
from pipeline.records import Event
from pipeline.signals.picture import FrozenTest, is_still


def _segments(offsets: np.ndarray, tolerance: float) -> list[list[int]]:
    segs: list[list[int]] = []
    for k, o in enumerate(offsets):
        if segs and abs(o - float(np.median(offsets[segs[-1]]))) <= tolerance:
            segs[-1].append(k)
        else:
            segs.append([k])
    # drop lone misreads between two agreeing segments
    out: list[list[int]] = []
    i = 0
    while i < len(segs):
        if (
            out
            and len(segs[i]) == 1
            and i + 1 < len(segs)
            and abs(np.median(offsets[out[-1]]) - np.median(offsets[segs[i + 1]])) <= tolerance
        ):
            out[-1].extend(segs[i + 1])
            i += 2
            continue
        out.append(segs[i])
        i += 1
    return out


class ClockJumpFinder:
    """Jumps of the burned-in clock against the file timeline (``clock_offset_s``)."""

    name = "clock_jump"

    def __call__(self, timeline: pa.Table, ctx: SessionContext) -> list[Event]:
        s = SessionSamples.of(timeline, ctx.site.analysis.sample_every_s)
        offset = column(timeline, "clock_offset_s")
        if not len(s) or not np.isfinite(offset).any():
            return []
        black = black_samples(timeline, ctx.site.rules)
        frozen = FrozenTest.of(ctx.site.rules)
        still = is_still(column(timeline, "frame_diff"), column(timeline, "noise"), frozen)
        usable = np.isfinite(offset) & ~black & ~still
        tolerance = float(ctx.site.rules.max_clock_drift_s)
        events: list[Event] = []
        for name in dict.fromkeys(s.files[usable]):
            idx = np.flatnonzero(usable & (s.files == name))
            segs = _segments(offset[idx], tolerance)
            first = [int(idx[k]) for k in segs[0]]
            base = float(np.median(offset[first]))
            if abs(base) > tolerance:
                i0, i1 = first[0], first[-1]
                bounds = Bounds(
                    float(s.t[i0]),
                    float(s.t[i1] + s.step / 2),
                    {
                        "start_file": name,
                        "start_t_file_s": float(s.t_file[i0]),
                        "end_file": name,
                        "end_t_file_s": float(s.t_file[i1]),
                    },
                )
                details = {
                    "clock_offset_s": round(base, 2),
                    "clock_shown": _shown(s, i0, base),
                    "reads": len(first),
                    "test": "clock_drift",
                }
                events.append(make_event("clock_jump", ctx, bounds, details, confidence=0.8))
            in_file = np.flatnonzero(s.files == name)
            file_end = s.t[in_file[-1]] + s.step  # the clock stays off until the file ends
            probe = next((p for p in ctx.probes if p.path.name == name), None)
            if probe is not None and probe.start is not None:
                file_end = probe.start.timestamp() + probe.duration_s
            for k, (before, after) in enumerate(itertools.pairwise(segs)):
                a, b = int(idx[before[-1]]), int(idx[after[0]])
                off_a = float(np.median(offset[idx[before]]))
                off_b = float(np.median(offset[idx[after]]))
                at = (s.t[a] + s.t[b]) / 2
                # the clock stays off by the jump until the next jump or the end of the file
                until = (
                    (s.t[int(idx[segs[k + 2][0]])] + s.t[int(idx[after[-1]])]) / 2
                    if k + 2 < len(segs)
                    else file_end
                )
                bounds = Bounds(
                    float(at),
                    float(until),
                    {
                        "start_file": name,
                        "start_t_file_s": round(float((s.t_file[a] + s.t_file[b]) / 2), 3),
                        "end_file": name,
                        "end_t_file_s": round(float(s.t_file[a] + until - s.t[a]), 3),
                        "start_bracket_s": [float(s.t_file[a]), float(s.t_file[b])],
                    },
                )
                details = {
                    "jump_s": round(off_b - off_a, 2),
                    "offset_before_s": round(off_a, 2),
                    "offset_after_s": round(off_b, 2),
                    "clock_before": _shown(s, a, float(offset[a])),
                    "clock_after": _shown(s, b, float(offset[b])),
                    "reads_before": len(before),
                    "reads_after": len(after),
                    "test": "clock_jump",
                }
                conf = 0.9 if len(before) > 1 and len(after) > 1 else 0.6
                events.append(make_event("clock_jump", ctx, bounds, details, confidence=conf))
        return events


def _shown(s: SessionSamples, i: int, offset: float) -> str:
    """The clock reading (as UTC) that produced ``offset`` at sample ``i``."""
    return utc(s.t[i] + offset).replace(microsecond=0).isoformat()
