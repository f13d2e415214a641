"""Plan: join the schedule with probed recordings into per-session spans of files."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from pipeline.findings import SessionContext
from pipeline.inputs.config import Site
from pipeline.records import ExamSession, FileProbe


def overlaps(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> bool:
    return a0 < b1 and b0 < a1


def plan_sessions(
    sessions: Sequence[ExamSession], probes: Iterable[FileProbe], site: Site, planned: bool = True
) -> tuple[list[SessionContext], list[str]]:
    """Each session with the files of its camera that overlap its window, plus warnings
    (``planned`` False: the sessions were derived from the recordings, so a camera without
    one merely showed nobody)."""
    probes = list(probes)
    warnings: list[str] = []
    by_camera: dict[str, list[FileProbe]] = {}
    for probe in probes:
        if probe.camera_id is not None and probe.start is not None:
            by_camera.setdefault(probe.camera_id, []).append(probe)
    scheduled = {s.camera_id for s in sessions}
    if site.cameras:
        for camera in sorted(scheduled - set(site.cameras)):
            where = site.path or "site.toml"
            warnings.append(
                f"{where}: camera {camera!r} is in the schedule but has no [cameras.{camera}] "
                "table; analysed with defaults (whole frame as proctor zone)"
            )
    for probe in probes:
        if probe.error is not None:
            continue  # reported as file_unreadable
        if probe.camera_id is None:
            warnings.append(
                f"{probe.path}: cannot tell the camera (no manifest row, the file name does "
                "not match filename_pattern, no camera sub-folder); not assigned to a session"
            )
        elif probe.start is None:
            warnings.append(
                f"{probe.path}: cannot tell the start time (no manifest row, the file name "
                "does not match filename_pattern, no creation_time tag); not assigned"
            )
        elif probe.camera_id not in scheduled and planned:
            warnings.append(f"{probe.path}: camera {probe.camera_id!r} is not in the schedule")
    contexts = []
    for session in sorted(sessions, key=lambda s: (s.scheduled_start, s.session_id)):
        files = tuple(
            sorted(
                (
                    p
                    for p in by_camera.get(session.camera_id, ())
                    if p.end is not None
                    and overlaps(p.start, p.end, session.scheduled_start, session.scheduled_end)
                ),
                key=lambda p: (p.start, str(p.path)),
            )
        )
        contexts.append(SessionContext(session, site.camera(session.camera_id), site, files))
    return contexts, warnings
