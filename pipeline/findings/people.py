"""Proctor absence and practical exams run as Q&A, cut from a session's people timeline.

Presence is judged per sample, then cut with :func:`pipeline.intervals.runs`: an absence must
last ``rules.min_proctor_absence_s`` (so a brief miss or occlusion never opens one), and a
presence shorter than the *confirmation* time inside an absence (a detector false positive,
someone glancing in) does not end it. Samples further apart than a few sampling steps (a
recording gap) break a run: missing video is the coverage check's finding, not an absence.
Samples inside a black, frozen or turned-away picture (the integrity finders' events, when
the integrity columns are in the timeline) count as neither presence nor absence: that time
is cut out of the time axis (:func:`pipeline.intervals.squeeze`), so an absence on both sides
of it stays one absence, judged against the rule on the time it was seen, with the time in
between in ``details.unverifiable_s``; the session reports the total as ``unverifiable_s``.
One finding never erases another.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from pipeline.findings import SessionContext
from pipeline.findings.static import Lookalike, drop_static_lookalikes
from pipeline.intervals import overlap, runs, squeeze, union, unsqueeze
from pipeline.records import Event

log = logging.getLogger(__name__)


def confirm_s(step_s: float, threshold_s: float) -> float:
    """How long a contrary state must last to split a run: a few samples, or 10 % of the rule."""
    return max(2.5 * step_s, 0.1 * threshold_s)


def unusable_spans(timeline: pa.Table, ctx: SessionContext) -> list[tuple[float, float]]:
    """Epoch-second spans where the picture cannot show people (black, frozen, turned away),
    found here by the checks :data:`pipeline.checks.people.UNUSABLE` when a caller of a
    finder did not hand them over (a scan's checks do, computed once per session)."""
    if "brightness" not in timeline.column_names or timeline["brightness"].null_count == len(
        timeline
    ):
        return []
    from pipeline.checks import people, registry
    from pipeline.checks.base import Inputs

    inputs = Inputs(site=ctx.site, timeline=timeline, ctx=ctx)
    used = {}
    for name in people.UNUSABLE:
        try:
            used[name] = registry.get(name).find(inputs)
        except Exception as exc:  # an integrity bug must not hide people findings
            log.warning("people: check %s failed (%s); its spans are not excluded", name, exc)
    return people.unusable_spans(Inputs(site=ctx.site, used=used))


class _Series:
    """A session's timeline as float seconds since the epoch, clipped to the scheduled window,
    without the samples where the picture is unusable."""

    def __init__(
        self,
        timeline: pa.Table,
        ctx: SessionContext,
        columns: tuple[str, ...],
        excluded: list[tuple[float, float]] | None = None,
    ):
        s = ctx.session
        self.start_s = s.scheduled_start.timestamp()
        self.end_s = s.scheduled_end.timestamp()
        names = set(timeline.column_names)
        ok = "t" in names and timeline.num_rows > 0
        if ok:
            t = timeline.column("t").cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())
            t = t.to_numpy(zero_copy_only=False).astype(np.float64) / 1000.0
        else:
            t = np.zeros(0)
        order = np.argsort(t, kind="stable")
        inside = (t[order] >= self.start_s) & (t[order] < self.end_s)
        if excluded is None:  # not handed over by the integrity checks: find them here
            excluded = unusable_spans(timeline, ctx) if ok else []
        # the unusable picture inside the scheduled window: cut out of the time axis
        self.excluded = [
            (max(a, self.start_s), min(b, self.end_s))
            for a, b in union(excluded if ok else [])
            if min(b, self.end_s) > max(a, self.start_s)
        ]
        for a, b in self.excluded:
            inside &= ~((t[order] >= a) & (t[order] < b))
        keep = order[inside]
        self.t = t[keep]
        self.cols = {  # a column the timeline lacks reads as unknown (NaN)
            c: _floats(timeline.column(c))[keep] if c in names else np.full(len(keep), np.nan)
            for c in columns
        }
        self.source = (
            np.asarray(timeline.column("source_file").to_pylist(), dtype=object)[keep]
            if ok and "source_file" in names
            else np.full(len(self.t), None, dtype=object)
        )
        steps = np.diff(squeeze(self.t, self.excluded))
        steps = steps[steps > 0]
        self.step = (
            float(np.median(steps)) if len(steps) else float(ctx.site.analysis.sample_every_s)
        )
        # a sample further from the next than this is followed by missing video
        self.max_step = max(3.0 * self.step, self.step + ctx.site.rules.min_gap_s)

    def valid(self, *columns: str) -> np.ndarray:
        ok = np.ones(len(self.t), bool)
        for c in columns:
            ok &= ~np.isnan(self.cols[c])
        return ok

    def end_t(self, t: np.ndarray) -> float:
        return min(float(t[-1]) + self.step, self.end_s) if len(t) else self.end_s

    def cut(
        self, t: np.ndarray, mask: np.ndarray, *, min_s: float, bridge_s: float
    ) -> list[tuple[float, float]]:
        """Runs of ``mask`` lasting ``min_s``, each boundary placed midway between the last
        sample outside the run and the first inside (the best estimate from sparse samples);
        a run that starts at the first sample, or after missing video, starts at its sample.
        Unusable picture is cut out of the time axis first: it neither lengthens nor breaks a
        run (``min_s`` is judged on the time seen), and spans it inside the run."""
        holes = self.excluded
        real_t = t
        t = squeeze(real_t, holes)
        end = float(squeeze(np.array([self.end_t(real_t)]), holes)[0])
        raw = runs(
            t,
            mask,
            min_s=max(0.0, min_s - self.step),
            bridge_s=bridge_s,
            max_step_s=self.max_step,
            end_t=end,
        )
        out = []
        for a, b in raw:
            i = int(np.searchsorted(t, a - 1e-6))
            if 0 < i < len(t) and t[i] - t[i - 1] <= self.max_step:
                a = (t[i - 1] + t[i]) / 2
            j = int(np.searchsorted(t, b - 1e-6))  # the first sample after the run, if any
            if 0 < j < len(t) and abs(t[j] - b) < 1e-6:
                b = (t[j - 1] + t[j]) / 2
            if b - a >= min_s - 1e-6:
                span = (unsqueeze(a, holes, start=True), unsqueeze(b, holes, start=False))
                out.append((float(span[0]), float(span[1])))
        return out

    def unverifiable_s(self, span: tuple[float, float] | None = None) -> float:
        """Seconds of unusable picture inside ``span`` (default: the scheduled window)."""
        return round(overlap(span or (self.start_s, self.end_s), self.excluded), 3)

    def source_at(self, t0: float) -> str | None:
        i = int(np.searchsorted(self.t, t0 - 1e-6))
        return self.source[i] if 0 <= i < len(self.source) else None


def without_lookalikes(timeline: pa.Table, ctx: SessionContext) -> tuple[pa.Table, list[Lookalike]]:
    """The session's people counts without static look-alikes (pipeline.findings.static)."""
    timeline, found = drop_static_lookalikes(
        timeline, ctx.camera, ctx.site.analysis.person_anchor, ctx.site.rules
    )
    if found:
        log.info(
            "session %s: %d static look-alike(s) left out of presence: %s",
            ctx.session.session_id,
            len(found),
            [f.details()["box"] for f in found],
        )
    return timeline, found


def _floats(col: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(col.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def _utc(epoch_s: float) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=round(epoch_s, 3))


def proctor_absences(
    t: np.ndarray, in_zone: np.ndarray, series: _Series, threshold_s: float, min_s: float
) -> list[tuple[float, float]]:
    """Absence runs of at least ``min_s``, confirmed as for the rule ``threshold_s``."""
    absent = ~(in_zone > 0)
    return series.cut(t, absent, min_s=min_s, bridge_s=confirm_s(series.step, threshold_s))


class ProctorAbsenceFinder:
    """``proctor_absent``: nobody in the proctor zone for >= ``rules.min_proctor_absence_s``."""

    name = "proctor_absent"

    def __call__(
        self, timeline: pa.Table, ctx: SessionContext, excluded: list | None = None
    ) -> list[Event]:
        timeline, lookalikes = without_lookalikes(timeline, ctx)
        s = _Series(timeline, ctx, ("persons_in_proctor_zone",), excluded)
        ok = s.valid("persons_in_proctor_zone")
        t, n = s.t[ok], s.cols["persons_in_proctor_zone"][ok]
        if len(t) == 0:
            return []
        min_s = float(ctx.site.rules.min_proctor_absence_s)
        events = []
        for a, b in proctor_absences(t, n, s, min_s, min_s):
            inside = (t >= a) & (t < b)
            seen = float((n[inside] > 0).mean()) if inside.any() else 0.0
            events.append(
                Event(
                    kind="proctor_absent",
                    camera_id=ctx.session.camera_id,
                    start=_utc(a),
                    end=_utc(b),
                    session_id=ctx.session.session_id,
                    confidence=round(1.0 - seen, 3),
                    details={
                        "threshold_s": min_s,
                        "samples": int(inside.sum()),
                        "samples_with_person_in_zone": int((n[inside] > 0).sum()),
                        "unverifiable_s": s.unverifiable_s((a, b)),
                        "sample_step_s": round(s.step, 3),
                        **(
                            {"static_lookalikes_ignored": [x.details() for x in lookalikes]}
                            if lookalikes
                            else {}
                        ),
                    },
                    source_file=s.source_at(a),
                )
            )
        return events


def _ffill(values: np.ndarray) -> np.ndarray:
    """Unknown samples (the first of a file has no predecessor) carry the previous value."""
    out = values.copy()
    for i in range(1, len(out)):
        if np.isnan(out[i]):
            out[i] = out[i - 1]
    return np.nan_to_num(out)


def _hands_on(s: _Series, motion_active: float) -> np.ndarray:
    """Per sample: someone works at the station. From ``station_hands_on`` (motion around a
    person in the zone) when the timeline has it, else from the zone's overall motion."""
    per_person = s.cols["station_hands_on"]
    if np.isfinite(per_person).any():
        return _ffill(per_person) > 0
    motion = _ffill(s.cols["station_motion"])
    return (s.cols["persons_in_station_zone"] > 0) & (motion >= motion_active)


def _speech(ctx: SessionContext, a: float, b: float) -> dict:
    """Speech ratio over ``[a, b)`` (epoch s) from the files with sound, weighted by overlap."""
    from pipeline.signals.audio import speech_ratio

    total = weight = 0.0
    for p in ctx.probes:
        if not p.has_audio or p.start is None or p.error is not None:
            continue
        f0 = p.start.timestamp()
        lo, hi = max(a, f0), min(b, f0 + p.duration_s)
        if hi <= lo:
            continue
        try:
            r = speech_ratio(p.path, lo - f0, hi - f0)
        except Exception as exc:  # optional evidence: say why it is missing, never fail
            return {"speech_ratio": None, "speech_error": str(exc)}
        if r is not None:
            total += r * (hi - lo)
            weight += hi - lo
    return {"speech_ratio": round(total / weight, 3)} if weight else {}


class QaSubstitutionFinder:
    """``qa_substitution``: a practical session with people present but nobody working at the
    station (person in the station zone and motion inside it) for >= ``min_station_idle_s``."""

    name = "qa_substitution"
    columns = ("persons", "persons_in_station_zone", "station_motion", "station_hands_on")

    def __call__(
        self, timeline: pa.Table, ctx: SessionContext, excluded: list | None = None
    ) -> list[Event]:
        if ctx.session.exam_type != "practical":
            return []
        if ctx.camera.station_zone is None:
            log.warning(
                "session %s: camera %s has no station_zone; Q&A check skipped",
                ctx.session.session_id,
                ctx.session.camera_id,
            )
            return []
        timeline, lookalikes = without_lookalikes(timeline, ctx)
        s = _Series(timeline, ctx, self.columns, excluded)
        ok = s.valid("persons", "persons_in_station_zone")
        if not ok.any():
            return []
        motion_active = float(ctx.site.rules.value("station_motion_active"))
        hands_on = _hands_on(s, motion_active)
        t = s.t[ok]
        present = s.cols["persons"][ok] > 0
        active = hands_on[ok]
        idle = present & ~active
        min_s = float(ctx.site.rules.min_station_idle_s)
        events = []
        for a, b in s.cut(t, idle, min_s=min_s, bridge_s=confirm_s(s.step, min_s)):
            inside = (t >= a) & (t < b)
            share_active = float(active[inside].mean()) if inside.any() else 0.0
            share_present = float(present[inside].mean()) if inside.any() else 0.0
            details = {
                "threshold_s": min_s,
                "samples": int(inside.sum()),
                "share_people_present": round(share_present, 3),
                "share_hands_on": round(share_active, 3),
                "hands_on_test": "motion around a person in the station zone"
                if np.isfinite(s.cols["station_hands_on"]).any()
                else f"person in the station zone and zone motion >= {motion_active}",
                **_speech(ctx, a, b),
            }
            if lookalikes:
                details["static_lookalikes_ignored"] = [x.details() for x in lookalikes]
            events.append(
                Event(
                    kind="qa_substitution",
                    camera_id=ctx.session.camera_id,
                    start=_utc(a),
                    end=_utc(b),
                    session_id=ctx.session.session_id,
                    confidence=round(share_present * (1.0 - share_active), 3),
                    details=details,
                    source_file=s.source_at(a),
                )
            )
        return events


def session_people_stats(
    timeline: pa.Table, ctx: SessionContext, excluded: list | None = None
) -> dict:
    """``proctor_presence`` (share of analysed samples with someone in the proctor zone),
    ``longest_proctor_absence_s`` (longest absence, any length) and ``station_activity`` (share
    of samples with hands-on work at the station; None for theory or without a station zone);
    with samples, ``unverifiable_s`` (scheduled seconds inside unusable picture)."""
    out: dict = {
        "proctor_presence": None,
        "longest_proctor_absence_s": None,
        "station_activity": None,
    }
    timeline, _ = without_lookalikes(timeline, ctx)
    s = _Series(timeline, ctx, ("persons_in_proctor_zone",), excluded)
    ok = s.valid("persons_in_proctor_zone")
    if ok.any() or s.excluded:  # scheduled time whose picture could not show people
        out["unverifiable_s"] = s.unverifiable_s()
    if ok.any():
        t, n = s.t[ok], s.cols["persons_in_proctor_zone"][ok]
        out["proctor_presence"] = round(float((n > 0).mean()), 4)
        rule = float(ctx.site.rules.min_proctor_absence_s)
        gaps = proctor_absences(t, n, s, rule, 0.0)
        seen = [b - a - s.unverifiable_s((a, b)) for a, b in gaps]  # time seen absent
        out["longest_proctor_absence_s"] = round(max(seen, default=0.0), 3)
    if ctx.session.exam_type == "practical" and ctx.camera.station_zone is not None:
        st = _Series(timeline, ctx, QaSubstitutionFinder.columns, excluded)
        ok = st.valid("persons_in_station_zone")
        if ok.any():
            motion_active = float(ctx.site.rules.value("station_motion_active"))
            out["station_activity"] = round(float(_hands_on(st, motion_active)[ok].mean()), 4)
    return out
