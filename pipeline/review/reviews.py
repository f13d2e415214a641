"""Inspector verdicts in ``EVIDENCE/reviews.parquet``: an append-only, hash-chained log.

Every row carries who (reviewer), when (UTC), its position ``seq``, the previous row's hash and
its own (SHA-256 over the row's fields and ``prev_hash``), so an edited, reordered or deleted
verdict shows (:func:`chain_problems`); a change of mind is a new row, never an edit. Every
write holds the evidence lock, checks that the log on disk is intact and matches the seal,
appends one row, writes a temp file, fsyncs it and renames it over the old table, then re-seals
the manifest: a crash leaves either the old or the new table; two writers never both read the
same old table.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.evidence import evidence_lock
from pipeline.schemas import REVIEWS, empty

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

VERDICTS = ("confirmed", "dismissed", "note")
MAX_NOTE = 4000
MAX_REVIEWER = 100
GENESIS = "0" * 64  # prev_hash of the first row


class ReviewLogBroken(Exception):
    """reviews.parquet no longer matches its own chain or the seal: nothing is appended to it."""


@dataclass(frozen=True)
class ReviewState:
    """What the page shows for one event: its latest verdict and every note, oldest first."""

    verdict: str | None  # confirmed | dismissed | None (unreviewed)
    reviewer: str | None
    reviewed_at: datetime | None
    notes: tuple[tuple[str, str, datetime], ...]  # (note, reviewer, at)


@dataclass(frozen=True)
class ChainProblem:
    """One row of the log that is not what was written: ``position`` is 1-based in the file."""

    position: int | None
    seq: int | None
    event_id: str
    status: str  # edited | deleted | reordered | duplicated | relinked | unchained
    detail: str


def reviews_path(evidence_dir: Path) -> Path:
    return Path(evidence_dir) / "reviews.parquet"


def load_reviews(evidence_dir: Path) -> pa.Table:
    """The log (tables written before the chain existed read with null chain columns)."""
    path = reviews_path(evidence_dir)
    if not path.exists():
        return empty(REVIEWS)
    return pq.read_table(path, schema=REVIEWS)


def _utc_ms(t: datetime) -> datetime:
    t = t.astimezone(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def row_digest(row: dict) -> str:
    """SHA-256 over a row's fields and the previous row's hash (the link of the chain)."""
    at = row["reviewed_at"]
    fields = [
        row["seq"],
        row["event_id"],
        row["verdict"],
        row["note"],
        row["reviewer"],
        _utc_ms(at).isoformat(timespec="milliseconds") if at else None,
        row["prev_hash"],
    ]
    blob = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def log_head(rows: Sequence[dict]) -> str:
    """The hash of the last chained row (GENESIS for an empty log)."""
    for r in reversed(rows):
        if r.get("row_hash"):
            return r["row_hash"]
    return GENESIS


def chain_problems(rows: Sequence[dict]) -> list[ChainProblem]:
    """Every row that was edited, moved, duplicated, or has a neighbour deleted."""
    out: list[ChainProblem] = []
    chained = [(pos, r) for pos, r in enumerate(rows, 1) if r.get("row_hash")]
    if not chained:
        return out
    first_chained = chained[0][0]
    for pos, r in enumerate(rows, 1):
        if not r.get("row_hash") and pos > first_chained:
            out.append(
                ChainProblem(pos, r.get("seq"), r["event_id"], "unchained", "row without a hash")
            )
    by_seq: dict[int, dict] = {}
    for pos, r in chained:
        seq = r.get("seq")
        if not isinstance(seq, int):
            out.append(ChainProblem(pos, None, r["event_id"], "edited", "seq missing"))
            continue
        if seq in by_seq:
            out.append(ChainProblem(pos, seq, r["event_id"], "duplicated", f"seq {seq} twice"))
            continue
        by_seq[seq] = r
        if row_digest(r) != r["row_hash"]:
            out.append(
                ChainProblem(
                    pos, seq, r["event_id"], "edited", "its fields no longer match its row_hash"
                )
            )
    seqs = sorted(by_seq)
    # rows stored out of order: each position should hold the next seq in sorted order
    stored = [(pos, r) for pos, r in chained if by_seq.get(r.get("seq")) is r]
    for (pos, r), s in zip(stored, seqs, strict=True):
        if r["seq"] != s:
            out.append(
                ChainProblem(pos, r["seq"], r["event_id"], "reordered", f"stored at row {pos}")
            )
    start = seqs[0] if seqs else 0
    if seqs and start != first_chained - 1:
        out.append(
            ChainProblem(
                None, None, "", "deleted", f"verdict row(s) seq {first_chained - 1}..{start - 1}"
            )
        )
    for a, b in itertools.pairwise(seqs):
        if b > a + 1:
            gap = f"seq {a + 1}" if b == a + 2 else f"seq {a + 1}..{b - 1}"
            after = by_seq[a]["event_id"]
            out.append(ChainProblem(None, a + 1, after, "deleted", f"{gap} (after seq {a})"))
    for s in seqs:
        r = by_seq[s]
        before = by_seq.get(s - 1)
        want = GENESIS if s == start and s == first_chained - 1 else None
        if before is not None:
            want = before["row_hash"]
        if want is not None and r["prev_hash"] != want:
            out.append(
                ChainProblem(
                    None,
                    s,
                    r["event_id"],
                    "relinked",
                    f"prev_hash does not match seq {s - 1}: that row was changed and re-hashed",
                )
            )
    return sorted(out, key=lambda p: (p.seq if p.seq is not None else -1, p.status))


def append_review(
    evidence_dir: Path,
    event_id: str,
    verdict: str,
    note: str = "",
    reviewer: str = "",
    now: datetime | None = None,
    sign_key: Ed25519PrivateKey | None = None,
) -> dict:
    """Append one verdict (or note) to the chain, re-seal the manifest, return the row."""
    from pipeline import seal

    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    if not event_id:
        raise ValueError("event_id is empty")
    reviewer = (reviewer or "").strip()[:MAX_REVIEWER]
    if not reviewer:
        raise ValueError("a verdict needs the reviewer's name")
    note = (note or "")[:MAX_NOTE]
    if verdict == "note" and not note.strip():
        raise ValueError("a note needs text")
    evidence_dir = Path(evidence_dir)
    path = reviews_path(evidence_dir)
    with evidence_lock(evidence_dir):
        table = load_reviews(evidence_dir)
        rows = table.to_pylist()
        broken = seal.review_log_problems(evidence_dir, rows)
        if broken:
            raise ReviewLogBroken(
                f"{path}: the verdict log does not match its seal ({broken[0]}); nothing was "
                "written. Run `examaudit archive-check` and restore reviews.parquet."
            )
        row = {
            "event_id": event_id,
            "verdict": verdict,
            "note": note or None,
            "reviewer": reviewer,
            "reviewed_at": _utc_ms(now or datetime.now(UTC)),
            "seq": len(rows),
            "prev_hash": log_head(rows),
        }
        row["row_hash"] = row_digest(row)
        table = pa.concat_tables([table, pa.Table.from_pylist([row], schema=REVIEWS)])
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            pq.write_table(table, tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        seal.reseal(evidence_dir, sign_key=sign_key)
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
