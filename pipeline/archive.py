"""`examaudit archive-check`: is the evidence complete and untouched since the scan?

Checks the seal (pipeline.seal: every evidence file and derived view against manifest.json,
the verdict log's chain, the signature when a public key is given), every source recording
against files.parquet (changed, disappeared, appeared), and that every scheduled session has
a sessions row.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import InputError
from pipeline.evidence import sha256_path
from pipeline.inputs.recordings import VIDEO_SUFFIXES
from pipeline.inputs.schedule import load_schedule
from pipeline.seal import MANIFEST, Problem, check_seal, read_manifest

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["Problem", "audit_archive", "check_archive"]


def audit_archive(
    evidence_dir: Path,
    schedule: Path | None = None,
    public_key: Ed25519PublicKey | None = None,
) -> tuple[list[Problem], list[str]]:
    """Problems (the check fails on any) and notes (e.g. whether the seal is signed)."""
    root = Path(evidence_dir)
    if not (root / MANIFEST).is_file():
        raise InputError(root / MANIFEST, None, "no manifest: not an ExamAudit evidence folder")
    try:
        manifest = read_manifest(root)
    except ValueError as exc:
        return [Problem("evidence", MANIFEST, "unreadable", f"invalid JSON: {exc}")], []
    try:
        problems, notes = check_seal(root, public_key)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, pa.ArrowException) as exc:
        problems, notes = [Problem("seal", MANIFEST, "unreadable", str(exc))], []
    problems.extend(_check_recordings(root, manifest))
    problems.extend(_check_sessions(root, manifest, schedule))
    return problems, notes


def check_archive(
    evidence_dir: Path,
    schedule: Path | None = None,
    public_key: Ed25519PublicKey | None = None,
) -> list[Problem]:
    return audit_archive(evidence_dir, schedule, public_key)[0]


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
