"""``examaudit crosscheck``: footage filed in one evidence folder that repeats another's.

A single scan only sees its own batch; the same practical exam filed for sessions at two
centres (or in two months' batches) shows only when their fingerprints meet. Each scan keeps
``fingerprints.parquet`` (per sample: the motion grid, the picture hash, where and when). The
join is one Dask graph, the same on a local cluster, a distributed one or (no ``--workers``)
the threads of this process (:mod:`pipeline.inspectorate.crosscheck_join`):

    band_rows (per folder) -> partition_pairs (per hash partition of the band values)
        -> stretches (per group of folder pairs: the loop search, frame-by-frame check)

Stretches within one folder are left to that folder's own scan. The later footage is the copy
(``b_*``), the earlier the original (``a_*``). Where both recordings are reachable the stretch
is confirmed frame by frame and its ends placed (:mod:`.crosscheck_verify`); a candidate the
frames reject is dropped; one that cannot be checked is kept with ``details.verified`` false
and the reason.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline import evidence as store
from pipeline import schemas
from pipeline.findings.picture import utc
from pipeline.inspectorate.crosscheck_join import (
    Samples,
    Stretch,
    band_rows,
    file_pairs,
    load_samples,
    partition_pairs,
    search_files,
)
from pipeline.inspectorate.crosscheck_verify import Outcome, Side, Source, confirm, load_source

log = logging.getLogger("examaudit")

FOLDERS_PER_PARTITION = 8
CACHED_FOLDERS = 4  # a verification task keeps at most this many folders' samples


@dataclass
class CrossResult:
    """The crosscheck table, thumbnails per row (original, copy; JPEG) where the recordings
    were reachable, the folders that could not be read (skipped), and notes: folders given
    twice (read once), folder pairs that hold the same recordings (not re-use)."""

    table: pa.Table
    thumbs: list[tuple[bytes, bytes] | None] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    folders: int = 0
    notes: list[str] = field(default_factory=list)


@lru_cache(maxsize=64)
def _source(folder: Path) -> Source:
    return load_source(folder)


def session_centres(folder: Path) -> dict[str, str]:
    """The centre of each session of an evidence folder (none where unreadable)."""
    try:
        rows = store.read_table(folder / "sessions.parquet", columns=["session_id", "centre_id"])
    except (OSError, ValueError, KeyError, pa.ArrowException):
        return {}
    return {r["session_id"]: r["centre_id"] for r in rows.to_pylist()}


# a recording as filed: its bytes (SHA-256), camera, start (ms) and the camera's centres
Filed = tuple[str, str, int, frozenset[str]]


@lru_cache(maxsize=64)
def _filed(folder: Path) -> dict[str, Filed]:
    """How a folder files each recording, by name (fingerprints name files by name); empty
    where its files.parquet cannot be read (then nothing counts as filed alike)."""
    try:
        files = store.read_table(
            folder / "files.parquet", columns=["path", "sha256", "camera_id", "start"]
        )
        sessions = store.read_table(folder / "sessions.parquet", columns=["camera_id", "centre_id"])
    except (OSError, ValueError, KeyError, pa.ArrowException):
        return {}
    centres: dict[str, set[str]] = {}
    for r in sessions.to_pylist():
        centres.setdefault(r["camera_id"], set()).add(r["centre_id"])
    return {
        Path(r["path"]).name: (
            r["sha256"],
            r["camera_id"],
            round(r["start"].timestamp() * 1000),
            frozenset(centres.get(r["camera_id"], ())),
        )
        for r in files.to_pylist()
        if r["sha256"] and r["camera_id"] and r["start"] is not None
    }


@lru_cache(maxsize=64)
def _held(folder: Path) -> frozenset[Filed]:
    return frozenset(_filed(folder).values())


def _filed_alike(
    paths: Sequence[Path], folders: tuple[int, int], sides: tuple[Samples, Samples], st: Stretch
) -> tuple[str | None, bool]:
    """Whether a stretch is re-use within one folder's own footage: (the recording's name
    when both sides are one recording filed alike in both folders, else None; True when
    either side is filed alike in the other folder too).

    The same bytes with the same camera, start and centre in two folders are the same footage
    scanned into both (a batch scanned twice, a copied evidence folder): no re-use, and a
    stretch against it is one the folder's own scan already sees. The same bytes filed under
    another time, camera or centre are the copy this command looks for."""
    o, c = sides[st.orig_side], sides[1 - st.orig_side]
    fo, fc = paths[folders[st.orig_side]], paths[folders[1 - st.orig_side]]
    name = o.files[o.file_rank[st.o0]]
    a, b = _filed(fo).get(name), _filed(fc).get(c.files[c.file_rank[st.c0]])
    if a is not None and a == b:
        return name, True
    return None, (b is not None and b in _held(fo)) or (a is not None and a in _held(fc))


def _row(
    paths: Sequence[Path],
    folders: tuple[int, int],
    sides: tuple[Samples, Samples],
    st: Stretch,
    check_frames: bool,
    min_loop_s: float,
) -> tuple[dict[str, Any], tuple[bytes, bytes] | None] | None:
    """One crosscheck row for a stretch (None when the frames reject it)."""
    o, c = sides[st.orig_side], sides[1 - st.orig_side]
    fo, fc = folders[st.orig_side], folders[1 - st.orig_side]
    step = st.step
    copy_file, orig_file = c.files[c.file_rank[st.c0]], o.files[o.file_rank[st.o0]]
    copy_epoch = float(c.t[st.c0] - c.tf[st.c0])  # the files' starts (epoch seconds)
    orig_epoch = float(o.t[st.o0] - o.tf[st.o0])
    # the samples stand for half a step either side; neither side starts before its file
    c0 = float(c.tf[st.c0] - step / 2)
    c0 = max(c0, 0.0, st.lag)
    c1 = float(c.tf[st.c1] + step / 2)
    o0 = c0 - st.lag
    details: dict[str, Any] = {
        "a_file": orig_file,
        "b_file": copy_file,
        "lag_s": round(st.lag, 3),
        "motion_similarity": round(st.similarity, 3),
        "changing_matches": st.matched,
        "sample_step_s": round(step, 3),
    }
    confidence = 0.6 if st.similarity >= 0.85 else 0.5
    thumbs = None
    if check_frames:
        try:
            got = confirm(
                Side(_source(paths[fo]), orig_file, str(o.cameras[st.o0])),
                Side(_source(paths[fc]), copy_file, str(c.cameras[st.c0])),
                o0,
                c0,
                c1,
                step,
                min_loop_s,
            )
        except Exception as exc:  # one odd recording never stops the job
            log.warning("crosscheck: frames of %s / %s not checked: %s", orig_file, copy_file, exc)
            failed = {"verified": False, "reason": f"frame check failed: {exc}"}
            got = Outcome(False, failed, c0, c1, o0)
        if got is None:
            return None
        details.update(got.details)
        if got.verified:
            c0, c1, o0 = got.copy_start_s, got.copy_end_s, got.orig_start_s
            details["lag_s"] = round(c0 - o0, 3)
            confidence = 0.95
        thumbs = got.thumbs
    else:
        details.update({"verified": False, "reason": "frame-by-frame check not asked for"})
    details["a_t_file_s"], details["b_t_file_s"] = round(o0, 3), round(c0, 3)
    duration = c1 - c0
    row = {
        "a_evidence": str(paths[fo]),
        "a_session_id": o.sessions[st.o0],
        "a_camera_id": o.cameras[st.o0],
        "a_start": utc(orig_epoch + o0),
        "a_end": utc(orig_epoch + o0 + duration),
        "b_evidence": str(paths[fc]),
        "b_session_id": c.sessions[st.c0],
        "b_camera_id": c.cameras[st.c0],
        "b_start": utc(copy_epoch + c0),
        "b_end": utc(copy_epoch + c1),
        "duration_s": round(duration, 3),
        "confidence": confidence,
        "details": details,
    }
    return row, thumbs


def _one_per_copy(found: list[tuple[dict, Any]]) -> list[tuple[dict, Any]]:
    """Several nominations of one copied stretch (other lags, or a neighbouring original
    sample) keep the longest, verified first."""
    found.sort(key=lambda rt: (not rt[0]["details"].get("verified"), -rt[0]["duration_s"]))
    kept: list[tuple[dict, Any]] = []
    for row, thumbs in found:
        same = (row["a_evidence"], row["details"]["a_file"], row["b_evidence"])
        if not any(
            (k["a_evidence"], k["details"]["a_file"], k["b_evidence"]) == same
            and k["details"]["b_file"] == row["details"]["b_file"]
            and (min(k["b_end"], row["b_end"]) - max(k["b_start"], row["b_start"])).total_seconds()
            > 0.5 * row["duration_s"]
            for k, _ in kept
        ):
            kept.append((row, thumbs))
    return kept


def stretches(
    paths: Sequence[Path],
    pair_parts: Sequence[np.ndarray],
    min_loop_s: float,
    check_frames: bool,
) -> tuple[list[tuple[dict[str, Any], tuple[bytes, bytes] | None]], set[tuple[int, int, str]]]:
    """Task 3, per group of folder pairs: the nominated file pairs searched, the stretches
    confirmed frame by frame, as crosscheck rows (with thumbnails); and the recordings that
    both folders of a pair hold alike (``(folder, folder, name)``; not rows, not decoded)."""
    for cached in (_source, _filed, _held):  # a worker outlives a job: read each job afresh
        cached.cache_clear()
    parts = [p for p in pair_parts if len(p)]
    if not parts:
        return [], set()
    pairs = np.unique(np.concatenate(parts), axis=0)
    out: list[tuple[dict, Any]] = []
    same: set[tuple[int, int, str]] = set()
    cache: dict[int, Samples] = {}  # folder pairs come sorted: x repeats, y seldom

    def samples(f: int) -> Samples:
        if f not in cache:
            if len(cache) >= CACHED_FOLDERS:
                cache.pop(next(iter(cache)))
            cache[f] = load_samples(paths[f])
        return cache[f]

    pairs = pairs[np.lexsort((pairs[:, 2], pairs[:, 0]))]  # each folder pair's rows together
    cuts = np.flatnonzero(np.diff(pairs[:, 0]) | np.diff(pairs[:, 2])) + 1
    for sub in np.split(pairs, cuts):
        fx, fy = sub[0, 0], sub[0, 2]
        nominated_files = file_pairs(sub, min_loop_s)
        if not nominated_files:
            continue  # chance look-alikes only: the folders are not even read
        x, y = samples(int(fx)), samples(int(fy))
        found = []
        for nominated in nominated_files:
            for st in search_files(x, y, nominated, min_loop_s):
                name, within = _filed_alike(paths, (int(fx), int(fy)), (x, y), st)
                if within:  # the folder's own scan reports re-use inside its footage
                    if name is not None:
                        same.add((int(fx), int(fy), name))
                    continue
                got = _row(paths, (int(fx), int(fy)), (x, y), st, check_frames, min_loop_s)
                if got is not None:
                    found.append(got)
        out += _one_per_copy(found)
    return out, same


def _same_notes(paths: Sequence[Path], same: set[tuple[int, int, str]]) -> list[str]:
    """One line per folder pair that holds the same recordings."""
    by_pair: dict[tuple[int, int], set[str]] = {}
    for fx, fy, name in same:
        by_pair.setdefault((min(fx, fy), max(fx, fy)), set()).add(name)
    return [
        f"footage matched between {paths[a]} and {paths[b]} is the same {len(names)} "
        "recording(s) in both (same SHA-256, camera, start and centre: scanned into both "
        "folders, not re-use; not listed, nor re-use among the recordings both hold, which "
        "each folder's own scan reports): " + ", ".join(sorted(names))
        for (a, b), names in sorted(by_pair.items())
    ]


def _readable(index: int, folder: Path, partitions: int) -> list[Any]:
    """band_rows, or (a folder that cannot be read) no rows and the reason."""
    try:
        return [*band_rows(index, folder, partitions), None]
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        return [*([{"band": np.zeros(0, np.int8)}] * partitions), f"{folder}: {exc}"]


def crosscheck(
    evidence: Sequence[Path],
    min_loop_s: float = 20.0,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    check_frames: bool = True,
) -> CrossResult:
    """Every stretch of at least ``min_loop_s`` seen in two different evidence folders."""
    import dask

    paths: list[Path] = []
    notes: list[str] = []
    seen: set[Path] = set()
    for e in evidence:  # a folder named twice (or by two spellings) is read once
        if (key := Path(e).resolve()) in seen:
            notes.append(f"{e}: given more than once; read once")
            continue
        seen.add(key)
        paths.append(Path(e))
    for p in paths:
        if not (p / "fingerprints.parquet").is_file() and not (p / "timeline.parquet").is_file():
            raise ValueError(f"{p}: not an evidence folder (no fingerprints.parquet)")
    n = max(1, math.ceil(len(paths) / FOLDERS_PER_PARTITION))
    rows = [
        dask.delayed(_readable, nout=n + 1)(i, p, n, dask_key_name=f"band_rows-{i}")
        for i, p in enumerate(paths)
    ]
    pairs = [
        dask.delayed(partition_pairs, nout=n)([r[k] for r in rows], n, dask_key_name=f"pairs-{k}")
        for k in range(n)
    ]
    found = [
        dask.delayed(stretches)(
            paths, [pp[g] for pp in pairs], min_loop_s, check_frames, dask_key_name=f"verify-{g}"
        )
        for g in range(n)
    ]
    problems = [r[n] for r in rows]
    if workers is None and scheduler is None:
        groups, problems = dask.compute(found, problems, scheduler="threads")
    else:
        from pipeline.dispatch import dask_client

        with dask_client(workers, scheduler) as client:
            groups, problems = dask.compute(found, problems, scheduler=client)
    kept = sorted(
        (rt for found_rows, _ in groups for rt in found_rows),
        key=lambda rt: (rt[0]["b_start"], rt[0]["b_evidence"], rt[0]["a_evidence"]),
    )
    table = pa.Table.from_pylist(
        [{**r, "details": json.dumps(r["details"], ensure_ascii=False)} for r, _ in kept],
        schema=schemas.CROSSCHECK,
    )
    notes += _same_notes(paths, set().union(*(s for _, s in groups)))
    return CrossResult(table, [t for _, t in kept], [p for p in problems if p], len(paths), notes)


def write_crosscheck(
    evidence: Sequence[Path],
    out: Path,
    min_loop_s: float = 20.0,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    lang: str = "zh",
) -> CrossResult:
    """``crosscheck.parquet`` and ``crosscheck.html`` in ``out`` (written atomically)."""
    from pipeline.inspectorate.crosscheck_page import render_page

    result = crosscheck(evidence, min_loop_s, workers=workers, scheduler=scheduler)
    out = Path(out)
    store.check_writable(out)
    store.commit_files(
        {
            out / "crosscheck.parquet": store.table_bytes(result.table),
            out / "crosscheck.html": render_page(result, lang).encode("utf-8"),
        }
    )
    return result
