"""A session's timeline as inline SVG geometry: recorded and missing video, proctor presence,
station activity and one lane of findings per kind, in page units (no markup here)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.checks import registry as checks
from pipeline.intervals import subtract, uncovered, union

SVG_W = 1000.0
STATION_BINS = 240


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


def session_timeline(
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
    recorded = union(subtract(spans, holes))
    for a, b in recorded:
        if bar := scale.bar(a, b, colour="#16a34a", title=f"{hm(a, tz)}–{hm(b, tz)}"):
            tl.recorded.append(bar)
    for a, b in uncovered((start, end), recorded):
        if bar := scale.bar(a, b, colour="#dc2626", title=f"{hm(a, tz)}–{hm(b, tz)}"):
            tl.gaps.append(bar)
    if samples:
        tl.has_timeline = True
        samples = sorted(samples, key=lambda r: r["t"])
        diffs = sorted((b["t"] - a["t"]) for a, b in itertools.pairwise(samples) if b["t"] > a["t"])
        step = diffs[len(diffs) // 2] if diffs else timedelta(seconds=1)
        present = [(r["t"], (r.get("persons_in_proctor_zone") or 0) > 0) for r in samples]
        for a, b in _runs(present, step):
            if bar := scale.bar(a, b, colour="#0ea5e9", title=f"{hm(a, tz)}–{hm(b, tz)}"):
                tl.proctor.append(bar)
        if tl.practical:
            tl.station = _station_bars(samples, scale, step, tz)
    lanes: dict[str, list[Bar]] = {}
    for e in events:
        bar = scale.bar(
            e["start"],
            max(e["end"], e["start"] + timedelta(seconds=1)),
            colour=checks.kind(e["kind"]).colour,
            title=f"{e['kind']} {hm(e['start'], tz)}–{hm(e['end'], tz)}",
            href=f"#ev-{e['event_id']}",
        )
        if bar:
            lanes.setdefault(e["kind"], []).append(bar)
    order = {k: i for i, k in enumerate(checks.kinds())}
    tl.events = sorted(lanes.items(), key=lambda kv: order.get(kv[0], len(order)))
    n = 6
    for i in range(n + 1):
        t = start + (end - start) * i / n
        tl.ticks.append((round(SVG_W * i / n, 2), hm(t, tz)))
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
            title=f"{hm(a, tz)} {mean:.3f}",
            opacity=round(0.1 + 0.9 * mean / top, 3),
        )
        if bar:
            bars.append(bar)
    return bars


def hm(t: datetime, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%H:%M:%S")
