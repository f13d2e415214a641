"""Exam plan kept (checklist item 3): planned exams that were not held, exams held outside
the plan. Both read the people counts (:mod:`pipeline.findings.activity`)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow.compute as pc

from pipeline.checks.base import Candidate, Check, Inputs, KindSpec, Setting
from pipeline.checks.people import UNUSABLE, unusable_spans
from pipeline.findings import activity
from pipeline.findings.static import drop_static_lookalikes
from pipeline.intervals import subtract


class NotHeld(Check):
    """A planned session whose recording shows no candidates for most of its window: the
    exam was "held" only on paper. Judged on the samples whose picture can show people; a
    window mostly unrecorded or unusable is for the coverage and picture checks to report."""

    name = "not_held"
    group = "people"
    order = 44
    zh = "计划中的考试时段内考场无考生（考试未按计划举行）"
    en = "A planned exam whose room shows no candidates (not held as planned)"
    kinds: ClassVar = (
        KindSpec(
            "session_not_held",
            "计划考试未举行",
            "Planned exam not held",
            "#0f766e",
            checklist="3",
            people=True,
        ),
    )
    needs: ClassVar = ("persons", "persons_in_proctor_zone")
    uses: ClassVar = UNUSABLE
    settings: ClassVar = (
        Setting(
            "not_held_share",
            float,
            0.9,
            "",
            0.5,
            1.0,
            zh="考场无考生的样本占可见样本至少此比例，判为考试未举行",
            en="Share of the observed samples without candidates from which a planned exam "
            "counts as not held",
        ),
    )

    def find(self, inputs: Inputs) -> list[Candidate]:
        ctx, tl = inputs.ctx, inputs.timeline
        assert ctx is not None and tl is not None
        s = ctx.session
        if not s.planned or tl.num_rows < 3:
            return []
        tl, _ = drop_static_lookalikes(
            tl.sort_by("t"), ctx.camera, ctx.site.analysis.person_anchor, ctx.site.rules
        )
        t = activity.epoch_s(tl)
        c = activity.candidates(tl)
        seen = np.isfinite(c) & ~activity.unknown_mask(t, unusable_spans(inputs))
        step = float(np.median(np.diff(t))) if len(t) > 1 else ctx.site.analysis.sample_every_s
        observed_s = float(seen.sum()) * step
        if observed_s < 0.5 * s.duration_s:
            return []
        empty = float(np.mean(c[seen] < 1))
        if empty < float(ctx.site.rules.value("not_held_share")):
            return []
        details = {
            "empty_share": round(empty, 3),
            "observed_s": round(observed_s, 1),
            "candidates_planned": s.candidates,
            "most_candidates_seen": int(np.nanmax(c[seen])),
        }
        return [Candidate(s.scheduled_start, s.scheduled_end, details=details)]


class Unscheduled(Check):
    """A room holding what looks like an exam outside every scheduled session of its camera.

    Reads the samples outside the plan (``Inputs.outside``): the scan analyses them coarsely
    (``analysis.unscheduled_every_s``) and again at the usual step around each stretch's ends,
    so the ends are placed like any other finding's.
    """

    name = "unscheduled"
    group = "people"
    scope = "batch"
    order = 46
    zh = "计划外时段考场内有考试活动（多人在场）"
    en = "Exam-like activity (several people present) outside every planned session"
    kinds: ClassVar = (
        KindSpec(
            "unscheduled_activity",
            "计划外考试活动",
            "Activity outside the plan",
            "#0e7490",
            checklist="3",
            people=True,
        ),
    )
    needs: ClassVar = ("persons", "person_boxes")
    settings: ClassVar = (
        Setting(
            "min_unscheduled_s",
            float,
            600.0,
            "s",
            0,
            86400,
            zh="计划外有人活动持续至少此时长才报告",
            en="Shortest activity outside the plan reported",
        ),
        Setting(
            "min_unscheduled_people",
            int,
            3,
            "",
            1,
            1000,
            zh="计划外同时在场至少此人数才算考试活动",
            en="People present at once that make activity outside the plan exam-like",
        ),
        Setting(
            "no_schedule_gap_s",
            float,
            600.0,
            "s",
            0,
            86400,
            zh="无考试计划时，有人活动的间断短于此时长视为同一场次",
            en="Without a plan: breaks in activity shorter than this stay in one derived session",
        ),
    )

    def find(self, inputs: Inputs) -> list[Candidate]:
        table = inputs.outside
        if table is None or table.num_rows == 0:
            return []
        site = inputs.site
        rules = site.rules
        min_s = float(rules.value("min_unscheduled_s"))
        bridge = unscheduled_bridge_s(site)
        out = []
        for camera_id in sorted(set(table["camera_id"].to_pylist()) - {None}):
            rows = table.filter(pc.equal(table["camera_id"], camera_id))
            sessions = [c.session for c in inputs.contexts if c.session.camera_id == camera_id]
            windows = [(s.scheduled_start, s.scheduled_end) for s in sessions]
            for st in activity.occupied(
                rows,
                site.camera(camera_id),
                min_people=int(rules.value("min_unscheduled_people")),
                min_s=min_s,
                bridge_s=bridge,
                anchor=site.analysis.person_anchor,
                rules=rules,
            ):
                for a, b in subtract([(st.start, st.end)], windows):
                    if (b - a).total_seconds() < min_s:
                        continue
                    near = min(
                        sessions,
                        key=lambda s, a=a, b=b: min(
                            abs((s.scheduled_start - b).total_seconds()),
                            abs((a - s.scheduled_end).total_seconds()),
                        ),
                        default=None,
                    )
                    details = {
                        "people": st.people,
                        "peak_people": st.peak,
                        "samples": st.samples,
                        "nearest_session": near.session_id if near else None,
                        "nearest_session_start": near.scheduled_start.isoformat() if near else None,
                    }
                    out.append(Candidate(a, b, details=details, camera_id=camera_id))
        return out


def unscheduled_bridge_s(site) -> float:
    """Misses bridged inside an unplanned stretch: a couple of coarse samples."""
    return max(2.5 * site.analysis.unscheduled_every_s, 3.0 * site.analysis.sample_every_s)
