"""schedule.csv: the exam plan, validated row by row with line numbers."""

from __future__ import annotations

import csv
import itertools
from datetime import UTC, datetime
from pathlib import Path

from pipeline.errors import InputError
from pipeline.records import ExamSession

COLUMNS = (
    "session_id",
    "centre_id",
    "room_id",
    "camera_id",
    "exam_type",
    "subject",
    "scheduled_start",
    "scheduled_end",
    "candidates",
    "proctors_required",
)


def parse_time(path: Path, where: str, value: str) -> datetime:
    """ISO 8601 with an explicit offset, returned in UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(path, where, f"not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise InputError(path, where, f"time {value!r} has no UTC offset (e.g. +08:00)")
    return parsed.astimezone(UTC)


def _count(path: Path, where: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise InputError(path, where, f"must be a whole number, got {value!r}") from None
    if number < 0:
        raise InputError(path, where, f"must be >= 0, got {number}")
    return number


def load_schedule(path: Path) -> list[ExamSession]:
    """Parse schedule.csv; any invalid row raises an InputError naming its line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(path, None, "file not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, None, f"not UTF-8 text ({exc.reason})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None:
        raise InputError(path, "line 1", "empty file: expected a header row")
    header = [h.strip() for h in header]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InputError(path, "line 1", f"header lacks column(s): {', '.join(missing)}")
    index = {name: header.index(name) for name in COLUMNS}
    sessions: list[ExamSession] = []
    seen: dict[str, int] = {}
    lines: dict[str, int] = {}
    for lineno, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(
                path, f"line {lineno}", f"expected {len(header)} fields, got {len(row)}"
            )
        cell = {name: row[i].strip() for name, i in index.items()}
        for name in ("session_id", "camera_id"):
            if not cell[name]:
                raise InputError(path, f"line {lineno}, {name}", "must not be empty")
        sid = cell["session_id"]
        if sid in seen:
            raise InputError(
                path, f"line {lineno}, session_id", f"{sid!r} already on line {seen[sid]}"
            )
        if cell["exam_type"] not in ("theory", "practical"):
            raise InputError(
                path,
                f"line {lineno}, exam_type",
                f"must be theory or practical, got {cell['exam_type']!r}",
            )
        start = parse_time(path, f"line {lineno}, scheduled_start", cell["scheduled_start"])
        end = parse_time(path, f"line {lineno}, scheduled_end", cell["scheduled_end"])
        if end <= start:
            raise InputError(path, f"line {lineno}, scheduled_end", "must be after scheduled_start")
        sessions.append(
            ExamSession(
                session_id=sid,
                centre_id=cell["centre_id"],
                room_id=cell["room_id"],
                camera_id=cell["camera_id"],
                exam_type=cell["exam_type"],  # type: ignore[arg-type]
                subject=cell["subject"],
                scheduled_start=start,
                scheduled_end=end,
                candidates=_count(path, f"line {lineno}, candidates", cell["candidates"]),
                proctors_required=_count(
                    path, f"line {lineno}, proctors_required", cell["proctors_required"]
                ),
            )
        )
        seen[sid] = lineno
        lines[sid] = lineno
    _check_overlaps(path, sessions, lines)
    return sessions


def _check_overlaps(path: Path, sessions: list[ExamSession], lines: dict[str, int]) -> None:
    """Two sessions on one camera at once cannot both be audited from one recording."""
    by_camera: dict[str, list[ExamSession]] = {}
    for s in sessions:
        by_camera.setdefault(s.camera_id, []).append(s)
    for camera, group in by_camera.items():
        group.sort(key=lambda s: s.scheduled_start)
        for a, b in itertools.pairwise(group):
            if b.scheduled_start < a.scheduled_end:
                raise InputError(
                    path,
                    f"line {lines[b.session_id]}",
                    f"session {b.session_id} overlaps session {a.session_id} "
                    f"(line {lines[a.session_id]}) on camera {camera}",
                )
