"""Fault injections: how a session's recording departs from a clean one.

Each fault is a small frozen dataclass. ``timeline()`` turns a session's faults into files,
each a list of frames saying which scene moment to render, what the NVR clock reads and the
frame's PTS; ``expected()`` gives the findings each fault must produce. Offsets (``at_s`` ...)
are seconds from the scheduled session start. Adding a fault = a dataclass + a branch in
``_shot_for`` (what it looks like) + a branch in ``expected`` (what it should be reported as).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Missing:
    """No recording at all for the session."""


@dataclass(frozen=True)
class LateStart:
    by_s: float


@dataclass(frozen=True)
class EarlyStop:
    by_s: float


@dataclass(frozen=True)
class SegmentGap:
    """The NVR closed a segment at ``at_s`` and opened the next ``gap_s`` later."""

    at_s: float
    gap_s: float


@dataclass(frozen=True)
class PtsJump:
    """Inside one file, timestamps jump by ``gap_s`` at ``at_s`` (real time passed, no video)."""

    at_s: float
    gap_s: float


@dataclass(frozen=True)
class Black:
    at_s: float
    dur_s: float


@dataclass(frozen=True)
class Frozen:
    """The camera feed repeats one decoded image (no noise); the NVR clock keeps ticking."""

    at_s: float
    dur_s: float


@dataclass(frozen=True)
class Turned:
    """Camera turned: the view shifts by (dx, dy) frame fractions and rolls ``angle_deg``."""

    at_s: float
    dur_s: float
    dx: float = 0.12
    dy: float = -0.04
    angle_deg: float = 3.0


@dataclass(frozen=True)
class Loop:
    """The camera feed replays ``dur_s`` of earlier footage from ``src_s`` at ``at_s``
    (a loop device in front of the NVR: the NVR's clock stays right)."""

    src_s: float
    at_s: float
    dur_s: float


@dataclass(frozen=True)
class ClockCut:
    """``cut_s`` of footage cut out at ``at_s`` and the file re-joined: the file's timeline is
    continuous but the burned-in clock (and the content) jumps ahead by ``cut_s``."""

    at_s: float
    cut_s: float


@dataclass(frozen=True)
class Reuse:
    """The session's file holds footage of another session (re-used recording), replayed
    through the NVR, so the clock shows this session's time."""

    source_session: str


Fault = (
    Missing
    | LateStart
    | EarlyStop
    | SegmentGap
    | PtsJump
    | Black
    | Frozen
    | Turned
    | Loop
    | ClockCut
    | Reuse
)


@dataclass(frozen=True)
class FrameSlot:
    """One output frame: file tick ``pts``, the session offset whose content it shows
    (``content_s``), the clock offset (``clock_s``) and the effect."""

    pts: int
    content_s: float
    clock_s: float
    black: bool = False
    frozen_at_s: float | None = None
    turned: Turned | None = None


@dataclass(frozen=True)
class FilePlan:
    start_s: float  # session offset of the file's first frame (names the file)
    slots: tuple[FrameSlot, ...]
    end_s: float  # session offset just after the last frame

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def recorded_span(faults: tuple[Fault, ...], duration_s: float) -> tuple[float, float] | None:
    if any(isinstance(f, Missing) for f in faults):
        return None
    start = sum(f.by_s for f in faults if isinstance(f, LateStart))
    end = duration_s - sum(f.by_s for f in faults if isinstance(f, EarlyStop))
    return start, end


def timeline(faults: tuple[Fault, ...], duration_s: float, fps: int) -> list[FilePlan]:
    """The files a session's recording is split into, frame by frame."""
    span = recorded_span(faults, duration_s)
    if span is None:
        return []
    start, end = span
    cuts = sorted((f.at_s, f.at_s + f.gap_s) for f in faults if isinstance(f, SegmentGap))
    segments, cursor = [], start
    for a, b in cuts:
        segments.append((cursor, a))
        cursor = b
    segments.append((cursor, end))
    jumps = sorted((f.at_s, f.gap_s) for f in faults if isinstance(f, PtsJump))
    files = []
    for seg_start, seg_end in segments:
        slots = []
        n = round((seg_end - seg_start) * fps)
        for k in range(n):
            s = seg_start + k / fps
            if any(a <= s < a + g for a, g in jumps):
                continue  # real time passed without video
            slots.append(_shot_for(faults, s, pts=k))
        files.append(FilePlan(seg_start, tuple(slots), seg_end))
    return files


def _shot_for(faults: tuple[Fault, ...], s: float, pts: int) -> FrameSlot:
    content, clock = s, s
    black, frozen, turned = False, None, None
    for f in faults:
        if isinstance(f, ClockCut) and s >= f.at_s:
            content += f.cut_s
            clock += f.cut_s
        elif isinstance(f, Loop) and f.at_s <= s < f.at_s + f.dur_s:
            content = f.src_s + (s - f.at_s)
        elif isinstance(f, Frozen) and f.at_s <= s < f.at_s + f.dur_s:
            frozen = f.at_s
        elif isinstance(f, Black) and f.at_s <= s < f.at_s + f.dur_s:
            black = True
        elif isinstance(f, Turned) and f.at_s <= s < f.at_s + f.dur_s:
            turned = f
    return FrameSlot(pts, content, clock, black, frozen, turned)


@dataclass(frozen=True)
class Expected:
    kind: str
    start_s: float
    end_s: float
    file_index: int | None  # which of the session's files holds it (None: between files)
    detail: str


def expected(
    faults: tuple[Fault, ...], duration_s: float, files: list[FilePlan], when: datetime
) -> list[Expected]:
    """Findings the faults must produce, as session offsets (``when`` only names times)."""

    def file_at(s: float) -> int | None:
        for i, fp in enumerate(files):
            if fp.start_s <= s < fp.end_s:
                return i
        return None

    def hhmmss(s: float) -> str:
        return (when + timedelta(seconds=s)).strftime("%H:%M:%S")

    out: list[Expected] = []
    span = recorded_span(faults, duration_s)
    for f in faults:
        if isinstance(f, Missing):
            out.append(
                Expected("recording_missing", 0.0, duration_s, None, "no recording for the session")
            )
        elif isinstance(f, LateStart):
            out.append(
                Expected(
                    "recording_gap",
                    0.0,
                    f.by_s,
                    None,
                    f"late start: recording begins {f.by_s:g} s late",
                )
            )
        elif isinstance(f, EarlyStop):
            out.append(
                Expected(
                    "recording_gap",
                    duration_s - f.by_s,
                    duration_s,
                    None,
                    f"early stop: recording ends {f.by_s:g} s early",
                )
            )
        elif isinstance(f, SegmentGap):
            out.append(
                Expected(
                    "recording_gap",
                    f.at_s,
                    f.at_s + f.gap_s,
                    None,
                    f"gap of {f.gap_s:g} s between two segments",
                )
            )
        elif isinstance(f, PtsJump):
            out.append(
                Expected(
                    "recording_gap",
                    f.at_s,
                    f.at_s + f.gap_s,
                    file_at(f.at_s - 1e-6),
                    f"timestamp jump of {f.gap_s:g} s inside a file at {hhmmss(f.at_s)}",
                )
            )
        elif isinstance(f, Black):
            out.append(
                Expected(
                    "black_screen",
                    f.at_s,
                    f.at_s + f.dur_s,
                    file_at(f.at_s),
                    f"lens covered for {f.dur_s:g} s",
                )
            )
        elif isinstance(f, Frozen):
            out.append(
                Expected(
                    "frozen_video",
                    f.at_s,
                    f.at_s + f.dur_s,
                    file_at(f.at_s),
                    f"picture frozen for {f.dur_s:g} s (clock ticks on)",
                )
            )
        elif isinstance(f, Turned):
            out.append(
                Expected(
                    "view_changed",
                    f.at_s,
                    f.at_s + f.dur_s,
                    file_at(f.at_s),
                    f"camera turned (shift {f.dx:g},{f.dy:g} of frame, roll {f.angle_deg:g} deg)"
                    f" for {f.dur_s:g} s",
                )
            )
        elif isinstance(f, Loop):
            out.append(
                Expected(
                    "looped_footage",
                    f.at_s,
                    f.at_s + f.dur_s,
                    file_at(f.at_s),
                    f"{f.dur_s:g} s of footage from {hhmmss(f.src_s)} replayed at"
                    f" {hhmmss(f.at_s)} (same file)",
                )
            )
        elif isinstance(f, ClockCut):
            assert span is not None
            out.append(
                Expected(
                    "clock_jump",
                    f.at_s,
                    span[1],
                    file_at(f.at_s),
                    f"{f.cut_s:g} s cut out at {hhmmss(f.at_s)}: clock jumps +{f.cut_s:g} s"
                    " and stays ahead of the file timeline",
                )
            )
        elif isinstance(f, Reuse):
            assert span is not None
            out.append(
                Expected(
                    "looped_footage",
                    span[0],
                    span[1],
                    0,
                    f"re-used recording: footage of session {f.source_session}",
                )
            )
    return out
