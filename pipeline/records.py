"""Interchange types: one frozen dataclass per concept, shared by every stage.

Times are timezone-aware ``datetime`` in UTC at stage boundaries; inside a file, offsets are
float seconds from the file's start (``t_s``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

ExamType = Literal["theory", "practical"]

EVENT_KINDS: tuple[str, ...] = (
    "recording_missing",
    "recording_gap",
    "black_screen",
    "frozen_video",
    "view_changed",
    "looped_footage",
    "clock_jump",
    "proctor_absent",
    "qa_substitution",
    "format_noncompliant",
    "file_unreadable",
    "proctor_understaffed",
    "candidate_count_mismatch",
)


def _registered_kinds() -> dict:
    """The kinds the checks declare (:mod:`pipeline.checks`); imported late, as the checks
    import this module."""
    from pipeline.checks.registry import kinds

    return kinds()


@dataclass(frozen=True)
class ExamSession:
    """One row of schedule.csv."""

    session_id: str
    centre_id: str
    room_id: str
    camera_id: str
    exam_type: ExamType
    subject: str
    scheduled_start: datetime
    scheduled_end: datetime
    candidates: int
    proctors_required: int
    planned: bool = True  # False: derived from the recordings (scan --no-schedule)

    @property
    def duration_s(self) -> float:
        return (self.scheduled_end - self.scheduled_start).total_seconds()


@dataclass(frozen=True)
class Recording:
    """A recording file with the camera and wall-clock start it was attributed to."""

    path: Path
    camera_id: str | None
    start: datetime | None
    source: Literal["manifest", "filename", "creation_time", "unknown"]


@dataclass(frozen=True)
class TimeGap:
    """A jump in presentation timestamps inside a file: video is missing for ``gap_s``."""

    at_s: float  # file offset of the last packet before the jump
    gap_s: float


@dataclass(frozen=True)
class FileProbe:
    """What one packet-level pass over a file learned (no decoding)."""

    path: Path
    sha256: str
    size_bytes: int
    camera_id: str | None
    start: datetime | None
    duration_s: float
    container: str | None
    codec: str | None
    width: int | None
    height: int | None
    fps: float | None
    keyframe_interval_s: float | None
    keyframes_s: tuple[float, ...] = ()
    gaps: tuple[TimeGap, ...] = ()
    frame_count: int = 0
    has_audio: bool = False
    error: str | None = None
    partial: bool = False  # with an error: the video before the damage is still usable
    # some packet's pts differs from its dts (B-frames, composition offsets); True when not
    # known. Only without reordering may the sampler let the demuxer drop non-key packets:
    # FFmpeg's MP4 demuxer then mis-assigns composition offsets to the packets it keeps
    reordered: bool = True

    @property
    def end(self) -> datetime | None:
        if self.start is None:
            return None
        return self.start + timedelta(seconds=self.duration_s)

    @property
    def readable(self) -> bool:
        return self.error is None

    def at(self, t_s: float) -> datetime:
        """Wall-clock time of a file offset."""
        assert self.start is not None, "file has no start time"
        return self.start + timedelta(seconds=t_s)

    def recorded_spans(self) -> list[tuple[datetime, datetime]]:
        """Wall-clock spans that have readable video: the file span minus its internal gaps.

        A partly readable file (truncated) still contributes the part that was read.
        """
        if self.start is None or self.duration_s <= 0 or (self.error and not self.partial):
            return []
        spans: list[tuple[datetime, datetime]] = []
        cursor = 0.0
        for gap in sorted(self.gaps, key=lambda g: g.at_s):
            if gap.at_s > cursor:
                spans.append((self.at(cursor), self.at(gap.at_s)))
            cursor = max(cursor, gap.at_s + gap.gap_s)
        if cursor < self.duration_s:
            spans.append((self.at(cursor), self.at(self.duration_s)))
        return [(a, b) for a, b in spans if b > a]


@dataclass(frozen=True)
class Event:
    """One finding. ``event_id`` is derived from its content so re-runs give the same id."""

    kind: str
    camera_id: str | None
    start: datetime
    end: datetime
    session_id: str | None = None
    confidence: float = 1.0
    details: Mapping[str, Any] = field(default_factory=dict)
    source_file: str | None = None
    clip: str | None = None
    thumb: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS and self.kind not in _registered_kinds():
            raise ValueError(f"unknown event kind {self.kind!r}")
        if self.end < self.start:
            raise ValueError(f"event {self.kind} ends before it starts")

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def event_id(self) -> str:
        import hashlib

        key = "|".join(
            [
                self.kind,
                self.session_id or "",
                self.camera_id or "",
                self.start.isoformat(),
                self.source_file or "",
            ]
        )
        return f"{self.kind}-{hashlib.sha1(key.encode()).hexdigest()[:12]}"

    def details_json(self) -> str:
        return json.dumps(dict(self.details), sort_keys=True, ensure_ascii=False, default=str)
