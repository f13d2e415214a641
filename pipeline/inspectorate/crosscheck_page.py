"""``crosscheck.html``: the repeated stretches for an inspector, self-contained, zh/en.

Each side is shown with its centre (the session's ``centre_id`` in that folder's
sessions.parquet), session, camera, local times (the folder's timezone, from its manifest),
and, where the recordings were reachable, a thumbnail of both sides at the stretch's middle.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.inspectorate.crosscheck import CrossResult, session_centres
from pipeline.review.report import _env as page_environment


def _folder(evidence: str) -> tuple[ZoneInfo, dict[str, str]]:
    """The folder's timezone and centre per session (UTC / none where unreadable)."""
    tz = ZoneInfo("UTC")
    try:
        name = json.loads((Path(evidence) / "manifest.json").read_text(encoding="utf-8"))
        tz = ZoneInfo(name.get("inputs", {}).get("timezone") or "UTC")
    except (OSError, ValueError, KeyError):
        pass
    return tz, session_centres(Path(evidence))


def _local(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    a, b = start.astimezone(tz), end.astimezone(tz)
    return f"{a:%Y-%m-%d %H:%M:%S} – {b:%H:%M:%S}"


def page_rows(result: CrossResult) -> list[dict[str, Any]]:
    """The table's rows with what the page shows of each."""
    out = []
    folder = cache(_folder)  # each folder's manifest and sessions read once per page
    for row, thumbs in zip(result.table.to_pylist(), result.thumbs, strict=True):
        d = json.loads(row["details"])
        r = {**row, **{k: d.get(k) for k in ("a_file", "b_file", "verified", "reason")}}
        r["verified_frames"] = d.get("verified_frames")
        r["compared_frames"] = d.get("compared_frames")
        for side in ("a", "b"):
            tz, centres = folder(row[f"{side}_evidence"])
            r[f"{side}_centre"] = centres.get(row[f"{side}_session_id"]) or "–"
            r[f"{side}_local"] = _local(row[f"{side}_start"], row[f"{side}_end"], tz)
        a, b = thumbs if thumbs and all(thumbs) else (None, None)
        r["thumb_a"] = base64.b64encode(a).decode() if a else None
        r["thumb_b"] = base64.b64encode(b).decode() if b else None
        out.append(r)
    return out


def render_page(result: CrossResult, lang: str = "zh") -> str:
    env = page_environment()  # the report's: same templates folder, autoescaped
    return env.get_template("crosscheck.html.j2").render(
        lang=lang,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        folders=result.folders,
        rows=page_rows(result),
        problems=result.problems,
        notes=result.notes,
    )
