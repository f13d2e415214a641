"""Evidence on disk: Arrow tables in, Parquet out, written atomically, sealed by pipeline.seal.

Every file is written to a temporary name in the same folder and renamed into place, so a
crash never leaves a half-written table. ``.cache/`` keeps per-file and per-chunk results keyed
by the recording's hash and the config hash, so a re-run of the same inputs skips done work.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import schemas
from pipeline.errors import EvidenceWriteError
from pipeline.records import Event, FileProbe, TimeGap

CACHE_DIR = ".cache"
TABLE_FILES = {name: f"{name}.parquet" for name in schemas.TABLES}


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename (same folder)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise EvidenceWriteError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise EvidenceWriteError(f"{path}: cannot write ({exc.strerror or exc})") from exc


_THREAD_LOCK = threading.Lock()
_HELD = threading.local()  # re-entrant within one thread (seal updates inside an append)


@contextlib.contextmanager
def evidence_lock(evidence_dir: Path) -> Iterator[None]:
    """Exclusive lock on the evidence folder itself (no lock file to litter the evidence): a
    thread lock for this process plus ``fcntl.flock`` for other processes. Every writer of
    reviews.parquet and manifest.json after the scan holds it, so two never interleave."""
    if getattr(_HELD, "depth", 0):
        _HELD.depth += 1
        try:
            yield
        finally:
            _HELD.depth -= 1
        return
    with _THREAD_LOCK:
        fd = os.open(evidence_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _HELD.depth = 1
            yield
        finally:
            _HELD.depth = 0
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def sweep_temp_files(folder: Path) -> int:
    """Remove temporary files a killed run left behind (ours only: ``.<name>.<random>.tmp``)."""
    removed = 0
    for path in Path(folder).rglob(".*.tmp"):
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed


def check_writable(folder: Path) -> None:
    """Fail before hours of work, not after, when the evidence folder cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise EvidenceWriteError(f"{folder}: cannot write ({exc.strerror or exc})") from exc


def commit_files(files: Mapping[Path, bytes]) -> None:
    """Write several files all-or-nothing (as far as a file system allows): every temporary
    file is written and synced first, and only then renamed into place. A full or read-only
    disk fails in the first phase and leaves the previous files untouched."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
    except OSError as exc:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        where = staged[-1][1] if staged else next(iter(files), "evidence")
        raise EvidenceWriteError(f"{where}: cannot write ({exc.strerror or exc})") from exc
    for tmp, path in staged:
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise EvidenceWriteError(f"{path}: cannot write ({exc.strerror or exc})") from exc


def table_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def write_table(path: Path, table: pa.Table) -> None:
    atomic_write_bytes(path, table_bytes(table))


def read_table(
    path: Path, schema: pa.Schema | None = None, columns: list[str] | None = None
) -> pa.Table:
    """One evidence file, whole or by column. Not pq.read_table: its dataset layer costs a
    fresh process 45 ms to import, for one file that needs none of it."""
    with pq.ParquetFile(path) as parquet:
        table = parquet.read(columns=columns)
    return table.cast(schema) if schema is not None else table


def sha256_path(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


# --- tables -------------------------------------------------------------------------------


def files_table(probes: Sequence[FileProbe], root: Path) -> pa.Table:
    rows = sorted(probes, key=lambda p: display_path(p.path, root))
    return pa.Table.from_pylist(
        [
            {
                "path": display_path(p.path, root),
                "sha256": p.sha256,
                "size_bytes": p.size_bytes,
                "camera_id": p.camera_id,
                "start": p.start,
                "end": p.end,
                "duration_s": p.duration_s,
                "container": p.container,
                "codec": p.codec,
                "width": p.width,
                "height": p.height,
                "fps": p.fps,
                "keyframe_interval_s": p.keyframe_interval_s,
                "error": p.error,
            }
            for p in rows
        ],
        schema=schemas.FILES,
    )


def event_sort_key(e: Event) -> tuple:
    return (e.start, e.kind, e.camera_id or "", e.session_id or "", e.source_file or "")


def events_table(events: Iterable[Event]) -> pa.Table:
    rows = sorted(events, key=event_sort_key)
    return pa.Table.from_pylist(
        [
            {
                "event_id": e.event_id,
                "session_id": e.session_id,
                "camera_id": e.camera_id,
                "kind": e.kind,
                "start": e.start,
                "end": e.end,
                "duration_s": e.duration_s,
                "confidence": e.confidence,
                "details": e.details_json(),
                "source_file": e.source_file,
                "clip": e.clip,
                "thumb": e.thumb,
            }
            for e in rows
        ],
        schema=schemas.EVENTS,
    )


def sessions_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    ordered = sorted(rows, key=lambda r: (r["scheduled_start"], r["session_id"]))
    return pa.Table.from_pylist(list(ordered), schema=schemas.SESSIONS)


def display_path(path: Path, root: Path) -> str:
    """Paths relative to the recordings folder when inside it (portable evidence)."""
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


# --- probe cache --------------------------------------------------------------------------


def probe_to_json(p: FileProbe) -> dict[str, Any]:
    """A probe as JSON for the cache (``probe_from_json`` reads it back)."""
    d = asdict(p)
    d["path"] = str(p.path)
    d["start"] = p.start.isoformat() if p.start else None
    return d


def probe_from_json(d: Mapping[str, Any]) -> FileProbe:
    return FileProbe(
        **{
            **d,
            "path": Path(d["path"]),
            "start": datetime.fromisoformat(d["start"]) if d["start"] else None,
            "keyframes_s": tuple(d["keyframes_s"]),
            "gaps": tuple(TimeGap(**g) for g in d["gaps"]),
        }
    )


class Cache:
    """Results of finished work, keyed by content (file hash, config hash, chunk)."""

    def __init__(self, evidence_dir: Path) -> None:
        self.root = Path(evidence_dir) / CACHE_DIR

    def _path(self, kind: str, key: str, suffix: str) -> Path:
        safe = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self.root / kind / f"{safe}{suffix}"

    def get_json(self, kind: str, key: str) -> Any | None:
        path = self._path(kind, key, ".json")
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def put_json(self, kind: str, key: str, value: Any) -> None:
        # a cache that cannot be written only costs a re-run
        with contextlib.suppress(EvidenceWriteError):
            atomic_write_bytes(self._path(kind, key, ".json"), json.dumps(value).encode())

    def get_table(self, kind: str, key: str) -> pa.Table | None:
        # one file, read as one: pq.read_table goes through pyarrow.dataset, whose import
        # alone cost 0.47 s on the first cache lookup of every worker, hit or miss
        path = self._path(kind, key, ".parquet")
        try:
            with pq.ParquetFile(path) as parquet:
                return parquet.read()
        except (OSError, pa.ArrowException):
            return None

    def put_table(self, kind: str, key: str, table: pa.Table) -> None:
        with contextlib.suppress(EvidenceWriteError):
            atomic_write_bytes(self._path(kind, key, ".parquet"), table_bytes(table))
