"""The self-contained HTML report (``EVIDENCE/report/index.html``), Chinese first.

One Jinja2 template (autoescaped) renders both the static report and the review app's page;
this module only turns evidence tables into plain numbers and strings for it. Timelines are
inline SVG whose geometry is computed here; every text reaches the page through Jinja2's
escaping. The page carries both languages; a button switches them in the browser.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
import pyarrow.parquet as pq

from pipeline import evidence
from pipeline.checks import registry as checks
from pipeline.errors import InputError
from pipeline.inspectorate.checklist import ITEMS, item_of
from pipeline.review import i18n, templating
from pipeline.review.media import atomic_path
from pipeline.review.planstrip import plan_strips
from pipeline.review.reviews import ReviewState, load_reviews, review_states
from pipeline.review.timeline import SVG_W, session_timeline
from pipeline.review.timeline import hm as _hm

TEMPLATES = Path(__file__).parent / "templates"
MEDIA_PATH = re.compile(r"^(clips|thumbs|views)/[A-Za-z0-9._-]+\.(mp4|jpg)$")
HIDDEN_DETAILS = ("reference_signature",)  # machine data (base64), not for inspectors
LANGS = ("zh", "en")


def kind_colours(present: list[str] = ()) -> dict[str, str]:
    """Colour per kind, from the checks' declarations (any other kind present: black)."""
    colours = {k: spec.colour for k, spec in checks.kinds().items()}
    return {**{k: checks.kind(k).colour for k in present}, **colours}


def _env() -> jinja2.Environment:
    return templating.environment(TEMPLATES)


TIMELINE_COLUMNS = ("session_id", "t", "persons_in_proctor_zone", "station_motion")


def _read(evidence_dir: Path, name: str) -> list[dict[str, Any]]:
    path = evidence_dir / f"{name}.parquet"
    if not path.exists():
        return []
    columns = None
    if name == "timeline":  # only what the charts plot, not every person box
        have = set(pq.read_schema(path).names)
        columns = [c for c in TIMELINE_COLUMNS if c in have]
    return evidence.read_table(path, columns=columns).to_pylist()


def _inputs(evidence_dir: Path) -> dict:
    """manifest.json's ``inputs`` (empty when there is none yet or it cannot be read)."""
    try:
        data = json.loads((Path(evidence_dir) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("inputs") or {}


def site_timezone(evidence_dir: Path) -> ZoneInfo:
    """The site's zone, for local times on the page: from manifest.json (a ``timezone`` key,
    or the site.toml the scan used, if it is still there); UTC otherwise."""
    manifest = Path(evidence_dir) / "manifest.json"
    name: str | None = None
    try:
        data = json.loads(manifest.read_text(encoding="utf-8")) if manifest.exists() else {}
        inputs = data.get("inputs") or {}
        name = data.get("timezone") or inputs.get("timezone")
        site = inputs.get("site")
        if not name and isinstance(site, str) and Path(site).is_file():
            from pipeline.inputs.config import load_site

            name = load_site(Path(site)).timezone
    except (ValueError, AttributeError, OSError, InputError):
        name = None
    try:
        return ZoneInfo(name) if isinstance(name, str) and name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _media(path: str | None, prefix: str, evidence_dir: Path) -> str | None:
    """A file-derived media path, only if it is one of ours and exists."""
    if not path or not MEDIA_PATH.match(path) or not (evidence_dir / path).is_file():
        return None
    return prefix + path


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.0f}%"


def _count(v: int | None) -> str:
    """A head count, or a dash where it was not measured (older evidence: no column)."""
    return "–" if v is None else str(v)


def _secs(v: float | None) -> str:
    if v is None:
        return "–"
    v = float(v)
    if v < 90:
        return f"{v:.0f} s"
    if v < 5400:
        return f"{v / 60:.1f} min"
    return f"{v / 3600:.1f} h"


def zone_label(tz: ZoneInfo, at: datetime | None = None) -> str:
    """The zone as a reader needs it: its name and its offset (at ``at``, for DST)."""
    offset = (at or datetime.now(UTC)).astimezone(tz).strftime("%z")
    return f"{tz.key} (UTC{offset[:3]}:{offset[3:]})"


def _local(t: datetime | None, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if t else "–"


def build_context(
    evidence_dir: Path,
    lang: str = "zh",
    mode: str = "static",
    media_prefix: str = "../",
) -> dict[str, Any]:
    """Everything the template needs, as plain values (no markup)."""
    evidence_dir = Path(evidence_dir)
    if lang not in LANGS:
        raise ValueError(f"--lang must be one of {', '.join(LANGS)}, got {lang!r}")
    tz = site_timezone(evidence_dir)
    sessions = sorted(
        _read(evidence_dir, "sessions"), key=lambda s: (s["scheduled_start"], s["session_id"])
    )
    events = sorted(_read(evidence_dir, "events"), key=lambda e: (e["start"], e["kind"]))
    files = _read(evidence_dir, "files")
    samples_by_session: dict[str, list[dict]] = {}
    for r in _read(evidence_dir, "timeline"):
        samples_by_session.setdefault(r["session_id"], []).append(r)
    states = review_states(load_reviews(evidence_dir))
    session_by_id = {s["session_id"]: s for s in sessions}

    events_by_session: dict[str | None, list[dict]] = {}
    for e in events:
        events_by_session.setdefault(e["session_id"], []).append(e)

    session_rows = []
    for s in sessions:
        sid = s["session_id"]
        s_events = events_by_session.get(sid, [])
        counts: dict[str, int] = {}
        for e in s_events:
            counts[e["kind"]] = counts.get(e["kind"], 0) + 1
        sheet = f"thumbs/session_{re.sub(r'[^A-Za-z0-9._-]', '_', sid)}.jpg"
        session_rows.append(
            {
                "id": sid,
                "anchor": "s-" + re.sub(r"[^A-Za-z0-9_-]", "_", sid),
                "centre": s["centre_id"] or "",
                "room": s["room_id"] or "",
                "camera": s["camera_id"] or "",
                "exam_type": s["exam_type"] or "",
                "date": s["scheduled_start"].astimezone(tz).strftime("%Y-%m-%d"),
                "start": _local(s["scheduled_start"], tz),
                "end": _hm(s["scheduled_end"], tz),
                "verdict": s["verdict"] or "",
                "coverage": s["coverage"],
                "coverage_pct": _pct(s["coverage"]),
                "coverage_w": round(100 * max(0.0, min(1.0, s["coverage"] or 0.0)), 1),
                "longest_gap": _secs(s["longest_gap_s"]),
                "proctor_presence": _pct(s["proctor_presence"]),
                "longest_absence": _secs(s["longest_proctor_absence_s"]),
                # picture that could not show people (older evidence has no such column)
                "unverifiable": _secs(s.get("unverifiable_s")),
                "station_activity": _pct(s["station_activity"]),
                "proctors_seen": _count(s.get("proctors_seen")),
                "candidates_seen": _count(s.get("candidates_seen")),
                "event_count": s["event_count"] if s["event_count"] is not None else len(s_events),
                "counts": sorted(counts.items()),
                "sheet": _media(sheet, media_prefix, evidence_dir),
                "timeline": session_timeline(
                    s, files, s_events, samples_by_session.get(sid, []), tz
                ),
            }
        )

    event_rows = []
    for e in events:
        s = session_by_id.get(e["session_id"] or "", {})
        state = states.get(e["event_id"], ReviewState(None, None, None, ()))
        try:
            details = json.loads(e["details"]) if e["details"] else {}
        except ValueError:
            details = {"details": e["details"]}
        tail = None
        if e["clip"] and e["clip"].endswith(".mp4"):
            tail = _media(e["clip"][:-4] + "_tail.mp4", media_prefix, evidence_dir)
        item = item_of(e["kind"], details)
        event_rows.append(
            {
                "item": item.code,
                "item_order": item.order,
                "item_title": (item.title("zh"), item.title("en")),
                "id": e["event_id"],
                "anchor": "ev-" + e["event_id"],
                "kind": e["kind"],
                "colour": checks.kind(e["kind"]).colour,
                "session": e["session_id"] or "",
                "session_anchor": "s-" + re.sub(r"[^A-Za-z0-9_-]", "_", e["session_id"] or ""),
                "centre": s.get("centre_id") or "",
                "room": s.get("room_id") or "",
                "camera": e["camera_id"] or "",
                "session_verdict": s.get("verdict") or "",
                "date": e["start"].astimezone(tz).strftime("%Y-%m-%d"),
                "start": _local(e["start"], tz),
                "end": _local(e["end"], tz),
                "duration": _secs(e["duration_s"]),
                "confidence": f"{e['confidence']:.2f}" if e["confidence"] is not None else "–",
                "details": sorted(
                    (str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
                    for k, v in details.items()
                    if k not in HIDDEN_DETAILS
                ),
                "source_file": e["source_file"] or "",
                "clip": _media(e["clip"], media_prefix, evidence_dir),
                "tail": tail,
                "thumb": _media(e["thumb"], media_prefix, evidence_dir),
                # view_changed: the camera's usual view, shown beside the session's picture
                "reference_thumb": _media(
                    details.get("reference_thumb"), media_prefix, evidence_dir
                ),
                "review": state.verdict or "unreviewed",
                "reviewer": state.reviewer or "",
                "reviewed_at": _local(state.reviewed_at, tz) if state.reviewed_at else "",
                "notes": [(n, who, _local(at, tz)) for n, who, at in state.notes],
            }
        )

    def options(values: list[str]) -> list[str]:
        return sorted({v for v in values if v})

    # findings are filed per checklist item of the campaign, as the problem list is
    event_rows.sort(key=lambda r: r["item_order"])
    checklist = [
        (
            item.code,
            item.title("zh"),
            item.title("en"),
            sum(r["item"] == item.code for r in event_rows),
        )
        for item in ITEMS
    ]

    order = {k: i for i, k in enumerate(checks.kinds())}
    kinds_present = sorted({e["kind"] for e in events}, key=lambda k: (order.get(k, len(order)), k))
    return {
        "lang": lang,
        "mode": mode,
        "S": i18n.STRINGS,
        "KIND": i18n.kind_labels(),
        "VERDICT": i18n.VERDICTS,
        "REVIEW": i18n.REVIEWS,
        "EXAM": i18n.EXAM_TYPES,
        "tz": zone_label(tz, sessions[0]["scheduled_start"] if sessions else None),
        "generated": datetime.now(UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
        "evidence_name": evidence_dir.resolve().name,
        "sessions": session_rows,
        "events": event_rows,
        "checklist": checklist,
        "filters": {
            "centre": options(
                [r["centre"] for r in session_rows] + [r["centre"] for r in event_rows]
            ),
            "room": options([r["room"] for r in session_rows] + [r["room"] for r in event_rows]),
            "date": options([r["date"] for r in session_rows] + [r["date"] for r in event_rows]),
            "kind": kinds_present,
            "verdict": [
                v
                for v in ("pass", "flag", "missing")
                if any(r["verdict"] == v for r in session_rows)
            ],
        },
        "totals": {
            "sessions": len(session_rows),
            "flagged": sum(r["verdict"] != "pass" for r in session_rows),
            "events": len(event_rows),
            "reviewed": sum(r["review"] != "unreviewed" for r in event_rows),
            "files": len(files),
            "unreadable": sum(bool(f["error"]) for f in files),
        },
        "kind_colours": kind_colours(kinds_present),
        "plan_strips": plan_strips(sessions, events, tz),
        "no_plan": bool(_inputs(evidence_dir).get("no_schedule")),
        "svg_w": SVG_W,
    }


def render_report(
    evidence_dir: Path, lang: str = "zh", mode: str = "static", media_prefix: str = "../"
) -> str:
    ctx = build_context(evidence_dir, lang=lang, mode=mode, media_prefix=media_prefix)
    return _env().get_template("report.html.j2").render(**ctx)


def write_report(evidence_dir: Path, lang: str = "zh") -> Path:
    """Write ``EVIDENCE/report/index.html`` (atomic) and return its path."""
    evidence_dir = Path(evidence_dir)
    if (
        not (evidence_dir / "sessions.parquet").exists()
        and not (evidence_dir / "events.parquet").exists()
    ):
        raise FileNotFoundError(
            f"{evidence_dir}: no sessions.parquet or events.parquet (not an evidence folder?)"
        )
    html = render_report(evidence_dir, lang=lang, mode="static", media_prefix="../")
    target = evidence_dir / "report" / "index.html"
    with atomic_path(target) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return target


__all__ = ["build_context", "render_report", "write_report"]
