"""Coverage: is every scheduled minute on video? Missing recordings, gaps, format rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from pipeline.findings import SessionContext
from pipeline.inputs.config import Site
from pipeline.intervals import Span, uncovered, union
from pipeline.records import Event, FileProbe


@dataclass(frozen=True)
class Coverage:
    recorded_s: float
    coverage: float
    longest_gap_s: float
    holes: tuple[Span, ...]


def session_coverage(ctx: SessionContext) -> Coverage:
    window = (ctx.session.scheduled_start, ctx.session.scheduled_end)
    covered = union([s for p in ctx.probes for s in p.recorded_spans()])
    holes = uncovered(window, covered)
    total = ctx.session.duration_s
    missing = sum((b - a).total_seconds() for a, b in holes)
    recorded = max(0.0, total - missing)
    longest = max(((b - a).total_seconds() for a, b in holes), default=0.0)
    return Coverage(recorded, recorded / total if total > 0 else 0.0, longest, tuple(holes))


def _cause(hole: Span, window: Span, probes: tuple[FileProbe, ...]) -> tuple[str, dict]:
    a, b = hole
    for p in probes:
        if p.start is not None and p.end is not None and p.start <= a and b <= p.end:
            if p.error is not None:
                return "unreadable_file", {"file": p.path.name, "error": p.error}
            return "inside_file", {"file": p.path.name}
    if a == window[0]:
        return "late_start", {}
    if b == window[1]:
        return "early_stop", {}
    before = [
        p.path.name for p in probes if p.end is not None and abs((p.end - a).total_seconds()) < 1
    ]
    after = [
        p.path.name
        for p in probes
        if p.start is not None and abs((p.start - b).total_seconds()) < 1
    ]
    return "between_files", {
        "previous_file": before[0] if before else None,
        "next_file": after[0] if after else None,
    }


class CoverageFinder:
    """``recording_missing`` and ``recording_gap`` (late start, early stop, between files,
    inside a file) for gaps of at least ``rules.min_gap_s``."""

    name = "coverage"

    def __call__(self, timeline: pa.Table, ctx: SessionContext) -> list[Event]:
        s = ctx.session
        window = (s.scheduled_start, s.scheduled_end)
        cov = session_coverage(ctx)
        if cov.recorded_s <= 0:
            files = [p.path.name for p in ctx.probes]
            return [
                Event(
                    "recording_missing",
                    s.camera_id,
                    *window,
                    session_id=s.session_id,
                    details={"scheduled_s": s.duration_s, "unreadable_files": files},
                )
            ]
        events = []
        for hole in cov.holes:
            gap_s = (hole[1] - hole[0]).total_seconds()
            if gap_s < ctx.site.rules.min_gap_s:
                continue
            cause, extra = _cause(hole, window, ctx.probes)
            source = extra.get("file")
            events.append(
                Event(
                    "recording_gap",
                    s.camera_id,
                    *hole,
                    session_id=s.session_id,
                    details={"cause": cause, "gap_s": round(gap_s, 3), **extra},
                    source_file=source,
                )
            )
        return events


def _file_time(probe: FileProbe) -> tuple[datetime, datetime, bool]:
    if probe.start is not None:
        return probe.start, probe.end or probe.start, True
    try:
        mtime = datetime.fromtimestamp(Path(probe.path).stat().st_mtime, UTC)
    except OSError:
        mtime = datetime.fromtimestamp(0, UTC)
    return mtime, mtime, False


def file_findings(probe: FileProbe, site: Site) -> list[Event]:
    """File-level findings: ``file_unreadable`` and ``format_noncompliant`` (site rules)."""
    start, end, known = _file_time(probe)
    base = {"camera_id": probe.camera_id, "source_file": probe.path.name}
    when = {} if known else {"time_source": "file modification time (start unknown)"}
    if probe.error is not None:
        return [
            Event(
                "file_unreadable",
                start=start,
                end=end,
                confidence=1.0,
                details={"reason": probe.error, "readable_s": round(probe.duration_s, 3), **when},
                **base,
            )
        ]
    rules = site.rules
    problems: list[str] = []
    if probe.height is not None and probe.height < rules.min_height:
        problems.append(f"height {probe.height} < min_height {rules.min_height}")
    if probe.fps is not None and probe.fps < rules.min_fps - 0.01:
        problems.append(f"fps {probe.fps:g} < min_fps {rules.min_fps:g}")
    if probe.codec is not None and probe.codec.lower() not in rules.allowed_codecs:
        problems.append(f"codec {probe.codec} not in {list(rules.allowed_codecs)}")
    kfi = probe.keyframe_interval_s
    if kfi is not None and kfi > rules.max_keyframe_interval_s:
        problems.append(f"keyframe interval {kfi:.1f} s > {rules.max_keyframe_interval_s:g} s")
    if not known:
        problems.append("no timestamp: camera/start not in manifest, file name or container tag")
    if not problems:
        return []
    details = {
        "problems": problems,
        "width": probe.width,
        "height": probe.height,
        "fps": probe.fps,
        "codec": probe.codec,
        **when,
    }
    return [Event("format_noncompliant", start=start, end=end, details=details, **base)]
