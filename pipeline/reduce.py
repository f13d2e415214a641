"""Per session: its timeline, its findings and statistics; then the batch checks, the
refinement of boundaries and the file-level findings counted in the sessions they overlap."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline import schemas
from pipeline.checks import runner
from pipeline.findings import SessionContext
from pipeline.findings.coverage import session_coverage
from pipeline.inputs.config import Site
from pipeline.progress import Progress
from pipeline.records import Event, ExamSession, FileProbe


def _session_timeline(tables: pa.Table, s: ExamSession) -> pa.Table:
    if tables.num_rows == 0:
        return schemas.empty(schemas.TIMELINE)
    mask = pc.and_(
        pc.equal(tables["camera_id"], s.camera_id),
        pc.and_(
            pc.greater_equal(tables["t"], pa.scalar(s.scheduled_start, schemas.TS)),
            pc.less(tables["t"], pa.scalar(s.scheduled_end, schemas.TS)),
        ),
    )
    part = tables.filter(mask).sort_by([("t", "ascending")])
    ids = pa.array([s.session_id] * part.num_rows, pa.string())
    return part.set_column(0, "session_id", ids)


def _people_stats(
    timeline: pa.Table, ctx: SessionContext, checks: Sequence[str], results: runner.Results
) -> dict:
    empty = {
        "proctor_presence": None,
        "longest_proctor_absence_s": None,
        "station_activity": None,
        "unverifiable_s": None,
        "proctors_seen": None,
        "candidates_seen": None,
    }
    if "people" not in checks:
        return empty
    from pipeline.checks.base import Inputs
    from pipeline.checks.people import UNUSABLE, unusable_spans
    from pipeline.findings.headcount import session_headcount_stats
    from pipeline.findings.people import session_people_stats

    used = Inputs(site=ctx.site, used={u: results.get(u, []) for u in UNUSABLE})
    excluded = unusable_spans(used)
    return {
        **empty,
        **session_people_stats(timeline, ctx, excluded),
        **session_headcount_stats(timeline, ctx, excluded),
    }


def _verdict(coverage: float, events: int) -> str:
    if coverage <= 0:
        return "missing"
    return "flag" if events else "pass"


def reduce_batch(
    contexts: Sequence[SessionContext],
    probes: Sequence[FileProbe],
    timeline: pa.Table,
    site: Site,
    checks: tuple[str, ...],
    progress: Progress,
    reference: Path | None = None,
    outside: pa.Table | None = None,
) -> tuple[list[Event], list[dict[str, Any]], pa.Table, dict[str, bytes]]:
    """Each camera's usual view over the batch; per session: its timeline, findings and
    statistics; then loops over the whole batch, refinement, and the file-level findings
    (counted in the sessions they overlap). Also returns views.parquet and its pictures."""
    progress.stage("sessions", total=len(contexts), unit="sessions")
    file_events = [e for p in probes for e in runner.file_events(p, site, checks)]
    events: list[Event] = []
    rows: list[dict[str, Any]] = []
    timelines = [_session_timeline(timeline, ctx.session) for ctx in contexts]
    view_files: dict[str, bytes] = {}
    if "integrity" in checks:
        from pipeline.review.views import batch_views_with_pictures

        contexts, found, view_files = batch_views_with_pictures(
            list(contexts), timelines, probes, site, reference
        )
        events.extend(found)
        from pipeline.findings.view import with_view_similarity

        timelines = [
            with_view_similarity(tl, ctx.views, site.rules)
            for ctx, tl in zip(contexts, timelines, strict=True)
        ]
    for ctx, tl in zip(contexts, timelines, strict=True):
        s = ctx.session
        found, results = runner.session_events(tl, ctx, checks)
        events.extend(found)
        cov = session_coverage(ctx)
        rows.append(
            {
                "session_id": s.session_id,
                "centre_id": s.centre_id,
                "room_id": s.room_id,
                "camera_id": s.camera_id,
                "exam_type": s.exam_type,
                "planned": s.planned,
                "scheduled_start": s.scheduled_start,
                "scheduled_end": s.scheduled_end,
                "recorded_s": cov.recorded_s,
                "coverage": cov.coverage,
                "longest_gap_s": cov.longest_gap_s,
                **_people_stats(tl, ctx, checks, results),
            }
        )
        progress.advance()
    full = pa.concat_tables(timelines) if timelines else schemas.empty(schemas.TIMELINE)
    events.extend(runner.batch_events(full, contexts, site, checks, outside=outside))
    events = runner.refine(events, {p.path.name: p for p in probes}, site)
    for row, ctx in zip(rows, contexts, strict=True):
        s = ctx.session
        related = sum(
            e.camera_id == s.camera_id and e.start < s.scheduled_end and e.end > s.scheduled_start
            for e in file_events
        )
        row["event_count"] = sum(e.session_id == s.session_id for e in events) + related
        row["verdict"] = _verdict(row["coverage"], row["event_count"])
        if row["exam_type"] != "practical":
            row["station_activity"] = None
    return events + file_events, rows, full, view_files
