"""Roll-ups across many evidence folders (centres, months), straight from their Parquet with
DuckDB: no folder is loaded whole into Python, so a province's worth of folders fits.

Months are the site's local months (each folder's time zone from its manifest), since a
self-inspection covers "every exam since January 2019" in local time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline import schemas
from pipeline.errors import InputError
from pipeline.inspectorate.checklist import ITEMS, OTHER, PLAN, PLAN_GAP_CAUSES, kind_items
from pipeline.review.report import site_timezone


@dataclass(frozen=True)
class Rollup:
    """The roll-up tables (schemas in :mod:`pipeline.schemas`)."""

    months: pa.Table  # per evidence folder, centre and local month
    items: pa.Table  # per centre, month and checklist item
    worst: pa.Table  # the sessions with the most findings
    folders: pa.Table  # per evidence folder: centre(s), time zone, whether a plan was given


def _folders(evidence: Sequence[Path]) -> pa.Table:
    rows = []
    for folder in evidence:
        folder = Path(folder)
        if not (folder / "sessions.parquet").is_file() or not (folder / "events.parquet").is_file():
            raise InputError(folder, None, "not an evidence folder (no sessions/events.parquet)")
        manifest = folder / "manifest.json"
        inputs = {}
        if manifest.is_file():
            inputs = json.loads(manifest.read_text(encoding="utf-8")).get("inputs") or {}
        rows.append(
            {
                "evidence": str(folder.resolve()),
                "tz": site_timezone(folder).key,
                "no_schedule": bool(inputs.get("no_schedule")),
                "has_reviews": (folder / "reviews.parquet").is_file(),
            }
        )
    if len({r["evidence"] for r in rows}) != len(rows):
        raise InputError(Path(evidence[0]), None, "the same evidence folder is given twice")
    return pa.Table.from_pylist(rows)


def _item_table() -> pa.Table:
    kinds = [{"kind": k, "item": v.code} for k, v in kind_items().items()]
    return pa.Table.from_pylist(kinds)


def _paths(folders: pa.Table, name: str) -> list[str]:
    return [str(Path(e) / f"{name}.parquet") for e in folders["evidence"].to_pylist()]


SQL_SESSIONS = """
CREATE TEMP TABLE s AS
SELECT f.evidence, s.session_id, s.centre_id, s.room_id, s.camera_id, s.exam_type,
       s.scheduled_start, s.scheduled_end, s.recorded_s, s.coverage, s.verdict,
       s.event_count, f.tz,
       strftime(timezone(f.tz, s.scheduled_start), '%Y-%m') AS month,
       epoch(s.scheduled_end) - epoch(s.scheduled_start) AS scheduled_s
FROM read_parquet($sessions, filename = true, union_by_name = true) s
JOIN folders f ON f.evidence = parse_dirpath(s.filename)
"""

# file-level findings (no session) belong to the centre and month of their camera's sessions
# that they overlap, else of the camera's first session in that folder
SQL_EVENTS = """
CREATE TEMP TABLE e AS
WITH raw AS (
  SELECT parse_dirpath(filename) AS evidence, event_id, session_id, camera_id, kind,
         start, "end", duration_s, details
  FROM read_parquet($events, filename = true, union_by_name = true)
), cam AS (
  SELECT evidence, camera_id, arg_min(centre_id, scheduled_start) AS centre_id,
         arg_min(month, scheduled_start) AS month
  FROM s GROUP BY ALL
)
SELECT raw.*, coalesce(s.centre_id, cam.centre_id) AS centre_id,
       coalesce(s.month, cam.month) AS month,
       CASE WHEN raw.kind = 'recording_gap'
                 AND list_contains($plan_causes, json_extract_string(raw.details, '$.cause'))
            THEN $plan_code ELSE coalesce(k.item, $other_code) END AS item
FROM raw
LEFT JOIN s ON s.evidence = raw.evidence AND s.session_id = raw.session_id
LEFT JOIN cam ON cam.evidence = raw.evidence AND cam.camera_id = raw.camera_id
LEFT JOIN kinds k ON k.kind = raw.kind
"""

SQL_REVIEWED = """
CREATE TEMP TABLE r AS
SELECT parse_dirpath(filename) AS evidence, event_id,
       arg_max(verdict, reviewed_at) AS verdict
FROM read_parquet($reviews, filename = true, union_by_name = true)
WHERE verdict IN ('confirmed', 'dismissed')
GROUP BY ALL
"""

SQL_MONTHS = """
WITH sess AS (
  SELECT evidence, centre_id, month, count(*) AS sessions,
         count(*) FILTER (WHERE verdict = 'flag') AS sessions_flagged,
         count(*) FILTER (WHERE verdict = 'missing') AS sessions_missing,
         sum(scheduled_s) / 3600 AS scheduled_h, sum(recorded_s) / 3600 AS recorded_h
  FROM s GROUP BY ALL
), ev AS (
  SELECT e.evidence, e.centre_id, e.month, count(*) AS findings,
         count(r.verdict) AS reviewed,
         count(*) FILTER (WHERE r.verdict = 'confirmed') AS confirmed
  FROM e LEFT JOIN r USING (evidence, event_id) GROUP BY ALL
)
SELECT sess.evidence, sess.centre_id, sess.month, sessions, sessions_flagged, sessions_missing,
       scheduled_h, recorded_h, coalesce(findings, 0) AS findings,
       coalesce(reviewed, 0) AS reviewed, coalesce(confirmed, 0) AS confirmed,
       CASE WHEN scheduled_h > 0 THEN 10 * coalesce(findings, 0) / scheduled_h END
         AS findings_per_10h,
       CASE WHEN coalesce(findings, 0) > 0 THEN reviewed / findings END AS reviewed_share
FROM sess LEFT JOIN ev USING (evidence, centre_id, month)
ORDER BY centre_id, month, evidence
"""

SQL_ITEMS = """
WITH hours AS (
  SELECT centre_id, month, sum(scheduled_s) / 3600 AS scheduled_h FROM s GROUP BY ALL
), counts AS (
  SELECT centre_id, month, item, count(*) AS findings FROM e GROUP BY ALL
)
SELECT h.centre_id, h.month, i.item, coalesce(c.findings, 0) AS findings,
       CASE WHEN h.scheduled_h > 0 THEN 10 * coalesce(c.findings, 0) / h.scheduled_h END
         AS findings_per_10h
FROM hours h CROSS JOIN items i
LEFT JOIN counts c ON c.centre_id = h.centre_id AND c.month = h.month AND c.item = i.item
ORDER BY h.centre_id, h.month, i.ord
"""

SQL_WORST = """
SELECT s.evidence, s.centre_id, s.room_id, s.session_id, s.exam_type, s.scheduled_start,
       s.coverage, s.verdict, count(e.event_id) AS findings,
       coalesce(sum(e.duration_s), 0) AS finding_s
FROM s JOIN e ON e.evidence = s.evidence AND e.session_id = s.session_id
GROUP BY ALL
ORDER BY findings DESC, finding_s DESC, s.scheduled_start, s.session_id
LIMIT $limit
"""


def rollup(evidence: Sequence[Path], worst: int = 20) -> Rollup:
    """Roll ``evidence`` folders up per centre and month, per checklist item, worst sessions."""
    if not evidence:
        raise InputError(Path("."), None, "no evidence folder given")
    folders = _folders(evidence)
    con = duckdb.connect()
    con.register("folders", folders)
    con.register("kinds", _item_table())
    items = pa.Table.from_pylist([{"item": i.code, "ord": i.order} for i in ITEMS])
    con.register("items", items)
    con.execute(SQL_SESSIONS, {"sessions": _paths(folders, "sessions")})
    con.execute(
        SQL_EVENTS,
        {
            "events": _paths(folders, "events"),
            "plan_causes": sorted(PLAN_GAP_CAUSES),
            "plan_code": PLAN.code,
            "other_code": OTHER.code,
        },
    )
    reviewed = [
        p
        for p, has in zip(
            _paths(folders, "reviews"), folders["has_reviews"].to_pylist(), strict=True
        )
        if has
    ]
    if reviewed:
        con.execute(SQL_REVIEWED, {"reviews": reviewed})
    else:
        con.execute("CREATE TEMP TABLE r (evidence VARCHAR, event_id VARCHAR, verdict VARCHAR)")
    return Rollup(
        months=con.sql(SQL_MONTHS).to_arrow_table().cast(schemas.SUMMARY_MONTHS),
        items=con.sql(SQL_ITEMS).to_arrow_table().cast(schemas.SUMMARY_ITEMS),
        worst=con.sql(SQL_WORST, params={"limit": worst})
        .to_arrow_table()
        .cast(schemas.SUMMARY_WORST),
        folders=folders,
    )
