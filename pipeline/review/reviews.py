"""Inspector verdicts in ``EVIDENCE/reviews.parquet``: append-only, atomic, never lost.

Every write holds a lock (a thread lock for this process plus ``fcntl.flock`` on the
EVIDENCE folder for other processes), reads the whole table, appends one row,
writes a temp file, fsyncs it and renames it over the old table. A crash leaves either the
old or the new table; two writers never both read the same old table.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.schemas import REVIEWS

VERDICTS = ("confirmed", "dismissed", "note")
MAX_NOTE = 4000
MAX_REVIEWER = 100
_THREAD_LOCK = threading.Lock()


@dataclass(frozen=True)
class ReviewState:
    """What the page shows for one event: its latest verdict and every note, oldest first."""

    verdict: str | None  # confirmed | dismissed | None (unreviewed)
    reviewer: str | None
    reviewed_at: datetime | None
    notes: tuple[tuple[str, str, datetime], ...]  # (note, reviewer, at)


def reviews_path(evidence_dir: Path) -> Path:
    return Path(evidence_dir) / "reviews.parquet"


def load_reviews(evidence_dir: Path) -> pa.Table:
    path = reviews_path(evidence_dir)
    if not path.exists():
        return REVIEWS.empty_table()
    return pq.read_table(path, schema=REVIEWS)


@contextlib.contextmanager
def _locked(evidence_dir: Path) -> Iterator[None]:
    """Exclusive lock on the evidence folder itself (no lock file to litter the evidence)."""
    with _THREAD_LOCK:
        fd = os.open(evidence_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def append_review(
    evidence_dir: Path,
    event_id: str,
    verdict: str,
    note: str = "",
    reviewer: str = "",
    now: datetime | None = None,
) -> dict:
    """Append one verdict (or note) and return the stored row."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    if not event_id:
        raise ValueError("event_id is empty")
    note = (note or "")[:MAX_NOTE]
    if verdict == "note" and not note.strip():
        raise ValueError("a note needs text")
    row = {
        "event_id": event_id,
        "verdict": verdict,
        "note": note or None,
        "reviewer": (reviewer or "")[:MAX_REVIEWER] or None,
        "reviewed_at": (now or datetime.now(UTC)).astimezone(UTC),
    }
    path = reviews_path(evidence_dir)
    with _locked(evidence_dir):
        table = pa.concat_tables(
            [load_reviews(evidence_dir), pa.Table.from_pylist([row], schema=REVIEWS)]
        )
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            pq.write_table(table, tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return row


def review_states(table: pa.Table) -> dict[str, ReviewState]:
    """Fold the append-only log into the current state per event (order of ``reviewed_at``)."""
    rows = sorted(table.to_pylist(), key=lambda r: (r["reviewed_at"] is None, r["reviewed_at"]))
    out: dict[str, ReviewState] = {}
    for r in rows:
        prev = out.get(r["event_id"], ReviewState(None, None, None, ()))
        notes = prev.notes
        if r["note"]:
            notes = (*notes, (r["note"], r["reviewer"] or "", r["reviewed_at"]))
        if r["verdict"] in ("confirmed", "dismissed"):
            prev = ReviewState(r["verdict"], r["reviewer"], r["reviewed_at"], notes)
        else:
            prev = ReviewState(prev.verdict, prev.reviewer, prev.reviewed_at, notes)
        out[r["event_id"]] = prev
    return out
