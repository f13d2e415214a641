"""Head counts against the schedule: too few invigilators, and a candidate count that is not
the roster's.

The schedule's ``proctors_required`` and ``candidates`` say how many people the exam plan
promised; the timeline says how many the camera saw. Both counts go through the static
look-alike filter first (:mod:`pipeline.findings.static`), so a poster or a coat on a chair is
nobody, and both use only the samples of the scheduled window whose picture can show people
(black, frozen or turned-away spans are the integrity checks' findings, not head counts).

- ``proctor_understaffed``: fewer people in the proctor zone (for practical sessions the
  examiner's place) than ``proctors_required`` for at least ``min_understaffed_s``, with the
  same hysteresis as an absence (a brief extra detection does not end the run). A session that
  requires one invigilator has nothing to add to ``proctor_absent``, so it needs two or more.
- ``candidate_count_mismatch``: the session's *robust* count in the camera's
  ``candidate_zone`` (the largest count seen in at least half of the samples: a candidate
  hidden for a while by the invigilator walking past, or a brief extra detection, does not move
  it) differs from ``candidates`` by more than ``candidate_count_tolerance`` of the roster.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipeline.findings import SessionContext
from pipeline.findings.people import _Series, _utc, confirm_s, without_lookalikes
from pipeline.records import Event

PROCTORS = "persons_in_proctor_zone"
CANDIDATES = "persons_in_candidate_zone"
MIN_SAMPLES = 5  # fewer analysed samples than this give no robust count


def robust_count(counts: np.ndarray) -> int | None:
    """The largest head count seen in at least half of the samples (None without samples).

    For sorted counts that is the upper median: a person missed in a minority of samples
    still counts, a spurious detection in a minority of samples does not."""
    counts = np.sort(np.asarray(counts, dtype=np.float64))
    if len(counts) == 0:
        return None
    return int(counts[len(counts) // 2])


def _counts(
    timeline: pa.Table, ctx: SessionContext, column: str, excluded: list | None
) -> tuple[_Series, np.ndarray, np.ndarray, list]:
    """The series, analysed sample times and counts of ``column`` without look-alikes."""
    timeline, lookalikes = without_lookalikes(timeline, ctx)
    s = _Series(timeline, ctx, (column,), excluded)
    ok = s.valid(column)
    return s, s.t[ok], s.cols[column][ok], lookalikes


def _ignored(lookalikes: list) -> dict:
    return {"static_lookalikes_ignored": [x.details() for x in lookalikes]} if lookalikes else {}


class ProctorUnderstaffedFinder:
    """``proctor_understaffed``: fewer people in the proctor zone than the schedule's
    ``proctors_required`` (two or more) for >= ``rules.min_understaffed_s``."""

    name = "proctor_understaffed"

    def __call__(
        self, timeline: pa.Table, ctx: SessionContext, excluded: list | None = None
    ) -> list[Event]:
        required = int(ctx.session.proctors_required)
        if required < 2:  # one required: too few is nobody, proctor_absent's finding
            return []
        s, t, n, lookalikes = _counts(timeline, ctx, PROCTORS, excluded)
        if len(t) == 0:
            return []
        min_s = float(ctx.site.rules.value("min_understaffed_s"))
        short = n < required
        events = []
        for a, b in s.cut(t, short, min_s=min_s, bridge_s=confirm_s(s.step, min_s)):
            inside = (t >= a) & (t < b)
            counts = n[inside]
            staffed = float((counts >= required).mean()) if inside.any() else 0.0
            events.append(
                Event(
                    kind=self.name,
                    camera_id=ctx.session.camera_id,
                    start=_utc(a),
                    end=_utc(b),
                    session_id=ctx.session.session_id,
                    confidence=round(1.0 - staffed, 3),
                    details={
                        "proctors_required": required,
                        "proctors_seen": robust_count(counts),
                        "most_seen": int(counts.max()) if len(counts) else None,
                        "threshold_s": min_s,
                        "samples": int(inside.sum()),
                        "samples_fully_staffed": int((counts >= required).sum()),
                        "sample_step_s": round(s.step, 3),
                        **_ignored(lookalikes),
                    },
                    source_file=s.source_at(a),
                )
            )
        return events


def _mismatch(seen: int, roster: int, tolerance: float) -> bool:
    """Whether ``seen`` differs from the roster by more than ``tolerance`` of it (an empty
    roster tolerates nobody)."""
    return abs(seen - roster) > tolerance * roster + 1e-9


class CandidateCountFinder:
    """``candidate_count_mismatch``: the robust count in the camera's ``candidate_zone`` differs
    from the schedule's ``candidates`` by more than ``rules.candidate_count_tolerance``."""

    name = "candidate_count_mismatch"

    def __call__(
        self, timeline: pa.Table, ctx: SessionContext, excluded: list | None = None
    ) -> list[Event]:
        if ctx.camera.candidate_zone is None:
            return []
        s, t, n, lookalikes = _counts(timeline, ctx, CANDIDATES, excluded)
        seen = robust_count(n) if len(t) >= MIN_SAMPLES else None
        roster = int(ctx.session.candidates)
        tolerance = float(ctx.site.rules.value("candidate_count_tolerance"))
        if seen is None or not _mismatch(seen, roster, tolerance):
            return []
        off = np.array([_mismatch(int(c), roster, tolerance) for c in n])
        values, samples = np.unique(n.astype(int), return_counts=True)
        return [
            Event(
                kind=self.name,
                camera_id=ctx.session.camera_id,
                start=_utc(float(t[0])),
                end=_utc(s.end_t(t)),
                session_id=ctx.session.session_id,
                # share of samples whose own count is off the roster as well
                confidence=round(float(off.mean()), 3),
                details={
                    "candidates_scheduled": roster,
                    "candidates_seen": seen,
                    "difference": seen - roster,
                    "share_of_roster": round(abs(seen - roster) / roster, 3) if roster else None,
                    "tolerance": tolerance,
                    "samples": len(t),
                    "samples_by_count": {
                        str(v): int(k) for v, k in zip(values, samples, strict=True)
                    },
                    "count": "largest head count in the candidate zone seen in at least half "
                    "of the samples",
                    **_ignored(lookalikes),
                },
                source_file=s.source_at(float(t[0])),
            )
        ]


def session_headcount_stats(
    timeline: pa.Table, ctx: SessionContext, excluded: list | None = None
) -> dict:
    """``proctors_seen`` and ``candidates_seen``: robust counts of the proctor and candidate
    zones (None without enough analysed samples; ``candidates_seen`` also without a
    ``candidate_zone``)."""
    out: dict = {"proctors_seen": None, "candidates_seen": None}
    columns = [("proctors_seen", PROCTORS)]
    if ctx.camera.candidate_zone is not None:
        columns.append(("candidates_seen", CANDIDATES))
    for key, column in columns:
        _, t, n, _ = _counts(timeline, ctx, column, excluded)
        if len(t) >= MIN_SAMPLES:
            out[key] = robust_count(n)
    return out
