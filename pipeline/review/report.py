"""The self-contained HTML report (``EVIDENCE/report/index.html``), Chinese first.

One Jinja2 template (autoescaped) renders both the static report and the review app's page;
this module only turns evidence tables into plain numbers and strings for it. Timelines are
inline SVG whose geometry is computed here; every text reaches the page through Jinja2's
escaping. The page carries both languages; a button switches them in the browser.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
import pyarrow.parquet as pq

from pipeline.checks import registry as checks
from pipeline.errors import InputError
from pipeline.review import i18n
from pipeline.review.media import atomic_path
from pipeline.review.reviews import ReviewState, load_reviews, review_states

TEMPLATES = Path(__file__).parent / "templates"
MEDIA_PATH = re.compile(r"^(clips|thumbs|views)/[A-Za-z0-9._-]+\.(mp4|jpg)$")
HIDDEN_DETAILS = ("reference_signature",)  # machine data (base64), not for inspectors
LANGS = ("zh", "en")
SVG_W = 1000.0
STATION_BINS = 240


def kind_colours(present: list[str] = ()) -> dict[str, str]:
    """Colour per kind, from the checks' declarations (any other kind present: black)."""
    colours = {k: spec.colour for k, spec in checks.kinds().items()}
    return {**{k: checks.kind(k).colour for k in present}, **colours}


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2", "html.j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


@dataclass
class Bar:
    x: float
    w: float
    colour: str = "#16a34a"
    title: str = ""
    opacity: float = 1.0
    href: str | None = None


@dataclass
class Timeline:
    recorded: list[Bar] = field(default_factory=list)
    gaps: list[Bar] = field(default_factory=list)
    proctor: list[Bar] = field(default_factory=list)
    station: list[Bar] = field(default_factory=list)
    events: list[tuple[str, list[Bar]]] = field(default_factory=list)  # one lane per kind
    ticks: list[tuple[float, str]] = field(default_factory=list)
    has_timeline: bool = False
    practical: bool = False


def _read(evidence_dir: Path, name: str) -> list[dict[str, Any]]:
    path = evidence_dir / f"{name}.parquet"
    if not path.exists():
        return []
    table = pq.read_table(path)
    if name == "timeline":
        wanted = [
            c
            for c in ("session_id", "t", "persons_in_proctor_zone", "station_motion")
            if c in table.column_names
        ]
        table = table.select(wanted)
    return table.to_pylist()


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
            from pipeline.config import load_site

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


def _secs(v: float | None) -> str:
    if v is None:
        return "–"
    v = float(v)
    if v < 90:
        return f"{v:.0f} s"
    if v < 5400:
        return f"{v / 60:.1f} min"
    return f"{v / 3600:.1f} h"


def _runs(points: list[tuple[datetime, bool]], step: timedelta) -> list[tuple[datetime, datetime]]:
    runs: list[tuple[datetime, datetime]] = []
    for t, on in points:
        if not on:
            continue
        if runs and t - runs[-1][1] <= step * 0.51:
            runs[-1] = (runs[-1][0], t + step)
        else:
            runs.append((t, t + step))
    return runs


def _subtract(spans: list[tuple[datetime, datetime]], holes: list[tuple[datetime, datetime]]):
    out = []
    for a, b in spans:
        pieces = [(a, b)]
        for ha, hb in holes:
            nxt = []
            for pa_, pb in pieces:
                if hb <= pa_ or ha >= pb:
                    nxt.append((pa_, pb))
                    continue
                if ha > pa_:
                    nxt.append((pa_, ha))
                if hb < pb:
                    nxt.append((hb, pb))
            pieces = nxt
        out.extend(pieces)
    return out


def _merge(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


class _Scale:
    def __init__(self, start: datetime, end: datetime) -> None:
        self.start, self.end = start, end
        self.span = max((end - start).total_seconds(), 1e-9)

    def bar(self, a: datetime, b: datetime, **kw: Any) -> Bar | None:
        a, b = max(a, self.start), min(b, self.end)
        if b <= a:
            return None
        x = SVG_W * (a - self.start).total_seconds() / self.span
        w = SVG_W * (b - a).total_seconds() / self.span
        return Bar(round(x, 2), round(max(w, 1.5), 2), **kw)


def _timeline(
    session: dict,
    files: list[dict],
    events: list[dict],
    samples: list[dict],
    tz: ZoneInfo,
) -> Timeline:
    start, end = session["scheduled_start"], session["scheduled_end"]
    scale = _Scale(start, end)
    tl = Timeline(practical=session["exam_type"] == "practical")
    spans = [
        (f["start"], f["end"])
        for f in files
        if f["camera_id"] == session["camera_id"] and not f["error"] and f["start"] and f["end"]
    ]
    holes = [(e["start"], e["end"]) for e in events if e["kind"] == "recording_gap"]
    recorded = _merge(_subtract(spans, holes))
    for a, b in recorded:
        if bar := scale.bar(a, b, colour="#16a34a", title=f"{_hm(a, tz)}–{_hm(b, tz)}"):
            tl.recorded.append(bar)
    for a, b in _subtract([(start, end)], recorded):
        if bar := scale.bar(a, b, colour="#dc2626", title=f"{_hm(a, tz)}–{_hm(b, tz)}"):
            tl.gaps.append(bar)
    if samples:
        tl.has_timeline = True
        samples = sorted(samples, key=lambda r: r["t"])
        diffs = sorted((b["t"] - a["t"]) for a, b in itertools.pairwise(samples) if b["t"] > a["t"])
        step = diffs[len(diffs) // 2] if diffs else timedelta(seconds=1)
        present = [(r["t"], (r.get("persons_in_proctor_zone") or 0) > 0) for r in samples]
        for a, b in _runs(present, step):
            if bar := scale.bar(a, b, colour="#0ea5e9", title=f"{_hm(a, tz)}–{_hm(b, tz)}"):
                tl.proctor.append(bar)
        if tl.practical:
            tl.station = _station_bars(samples, scale, step, tz)
    lanes: dict[str, list[Bar]] = {}
    for e in events:
        bar = scale.bar(
            e["start"],
            max(e["end"], e["start"] + timedelta(seconds=1)),
            colour=checks.kind(e["kind"]).colour,
            title=f"{e['kind']} {_hm(e['start'], tz)}–{_hm(e['end'], tz)}",
            href=f"#ev-{e['event_id']}",
        )
        if bar:
            lanes.setdefault(e["kind"], []).append(bar)
    order = {k: i for i, k in enumerate(checks.kinds())}
    tl.events = sorted(lanes.items(), key=lambda kv: order.get(kv[0], len(order)))
    n = 6
    for i in range(n + 1):
        t = start + (end - start) * i / n
        tl.ticks.append((round(SVG_W * i / n, 2), _hm(t, tz)))
    return tl


def _station_bars(samples: list[dict], scale: _Scale, step: timedelta, tz: ZoneInfo) -> list[Bar]:
    """Station motion as shaded bars, binned to at most ``STATION_BINS`` per session so a
    long session does not put one rectangle per sample into the page."""
    points = [(r["t"], r["station_motion"]) for r in samples if r.get("station_motion") is not None]
    if not points:
        return []
    top = max(v for _, v in points) or 1.0
    width = max(step, (scale.end - scale.start) / STATION_BINS)
    bins: dict[int, list[float]] = {}
    for t, v in points:
        bins.setdefault(int((t - scale.start) / width), []).append(v)
    bars = []
    for k, values in sorted(bins.items()):
        a = scale.start + width * k
        mean = sum(values) / len(values)
        bar = scale.bar(
            a,
            a + width,
            colour="#9333ea",
            title=f"{_hm(a, tz)} {mean:.3f}",
            opacity=round(0.1 + 0.9 * mean / top, 3),
        )
        if bar:
            bars.append(bar)
    return bars


def _hm(t: datetime, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%H:%M:%S")


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
                "station_activity": _pct(s["station_activity"]),
                "event_count": s["event_count"] if s["event_count"] is not None else len(s_events),
                "counts": sorted(counts.items()),
                "sheet": _media(sheet, media_prefix, evidence_dir),
                "timeline": _timeline(s, files, s_events, samples_by_session.get(sid, []), tz),
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
        event_rows.append(
            {
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
