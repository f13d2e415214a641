"""`examaudit archive-check`: is the evidence complete and untouched since the scan?

Checks every evidence file against the sha256 in manifest.json, every source recording
against files.parquet (changed, disappeared, appeared), and that every scheduled session has
a sessions row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.errors import InputError
from pipeline.evidence import MANIFEST, evidence_files, read_manifest, sha256_path
from pipeline.recordings import VIDEO_SUFFIXES
from pipeline.schedule import load_schedule


@dataclass(frozen=True)
class Problem:
    what: str  # evidence | recording | session
    name: str
    status: str  # changed | missing | appeared | no_row | unreadable
    detail: str = ""


def check_archive(evidence_dir: Path, schedule: Path | None = None) -> list[Problem]:
    root = Path(evidence_dir)
    if not (root / MANIFEST).is_file():
        raise InputError(root / MANIFEST, None, "no manifest: not an ExamAudit evidence folder")
    try:
        manifest = read_manifest(root)
    except ValueError as exc:
        return [Problem("evidence", MANIFEST, "unreadable", f"invalid JSON: {exc}")]
    problems: list[Problem] = []
    recorded = manifest.get("files", {})
    for rel, digest in sorted(recorded.items()):
        path = root / rel
        if not path.is_file():
            problems.append(Problem("evidence", rel, "missing"))
        elif sha256_path(path) != digest:
            problems.append(Problem("evidence", rel, "changed", "sha256 differs from manifest"))
    for path in evidence_files(root):
        rel = path.relative_to(root).as_posix()
        if rel not in recorded:
            problems.append(Problem("evidence", rel, "appeared", "not in manifest"))
    problems.extend(_check_recordings(root, manifest))
    problems.extend(_check_sessions(root, manifest, schedule))
    return problems


def _check_recordings(root: Path, manifest: dict) -> list[Problem]:
    folder = Path(manifest.get("inputs", {}).get("recordings", ""))
    try:
        files = pq.read_table(root / "files.parquet", columns=["path", "sha256"]).to_pylist()
    except (OSError, ValueError) as exc:
        return [Problem("evidence", "files.parquet", "unreadable", str(exc))]
    problems = []
    known = set()
    for row in files:
        path = Path(row["path"])
        path = path if path.is_absolute() else folder / path
        known.add(path.resolve())
        if not path.is_file():
            problems.append(Problem("recording", row["path"], "missing"))
        elif row["sha256"] and sha256_path(path) != row["sha256"]:
            problems.append(Problem("recording", row["path"], "changed", "sha256 differs"))
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() in VIDEO_SUFFIXES and path.resolve() not in known:
                rel = path.relative_to(folder).as_posix()
                if not any(part.startswith(".") for part in Path(rel).parts):
                    problems.append(Problem("recording", rel, "appeared", "not scanned"))
    return problems


def _check_sessions(root: Path, manifest: dict, schedule: Path | None) -> list[Problem]:
    if schedule is None:
        folder = Path(manifest.get("inputs", {}).get("recordings", ""))
        schedule = folder / "schedule.csv"
        if not schedule.is_file():
            return []
    sessions = load_schedule(schedule)
    try:
        have = set(
            pq.read_table(root / "sessions.parquet", columns=["session_id"])
            .column("session_id")
            .to_pylist()
        )
    except (OSError, ValueError) as exc:
        return [Problem("evidence", "sessions.parquet", "unreadable", str(exc))]
    return [
        Problem("session", s.session_id, "no_row", "scheduled but not in sessions.parquet")
        for s in sessions
        if s.session_id not in have
    ]
