"""The crosscheck's candidate join, in pieces that run as Dask tasks.

1. :func:`band_rows` (one task per evidence folder): the folder's fingerprints -> windows of
   moving samples (:mod:`pipeline.findings.motion_index`, the same fixed hyperplanes as the
   in-batch loop check) -> one row per (window, band): the band, the folder, the window, its
   ten band keys (the whole 120-bit SimHash), its file and offset and the folder's sample step
   (40 bytes), hash-partitioned on the band's value. Only these small rows travel; no task
   holds all folders' fingerprints.
2. :func:`partition_pairs` (one task per partition): the rows of every folder that fall in
   one partition, joined per band with :func:`~pipeline.findings.motion_index.band_pairs`
   (buckets, big ones split by further bands); a pair must join two different folders and
   its SimHashes must agree (Hamming distance: the windows' grids are not shipped). The pairs
   are hash-partitioned on the folder pair.
3. :func:`file_pairs` (in the task of a group of folder pairs, on the joined rows alone): a
   file pair with ``MIN_SEEDS`` joined windows at one lag is nominated; only then are the two
   folders read again, and :func:`search_files` grows the stretch from those seeds with the
   loop check's own :func:`pipeline.findings.loops.search` (lag votes, growth, the stretch
   tests) over the two files' samples alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import evidence as store
from pipeline import schemas
from pipeline.findings.loops import MIN_SEEDS, sample_step, search
from pipeline.findings.loops import _chains as chains
from pipeline.findings.loops import _lag_clusters as lag_clusters
from pipeline.findings.motion_index import (
    BANDS,
    band_pairs,
    grid_vectors,
    sample_order,
    window_keys,
    window_starts,
)

# a joined pair's SimHashes differ in at most this many of their 120 bits: an angle of
# pi * 26 / 120 (cosine 0.78; a copy's windows, cosine 0.85 and more, pass with p ~ 0.9 each,
# windows of look-alike rooms with p ~ 0.002 on the benchmark). The exact cosine is the search's.
MAX_HAMMING = 26
# a joined pair: folders, windows, each window's file and offset (ms), the coarser step (ms)
PAIR_COLUMNS = ("folder_x", "window_x", "folder_y", "window_y", "file_x", "ms_x", "file_y")
PAIR_COLUMNS += ("ms_y", "step_ms")
MIX = np.uint64(0x9E3779B97F4A7C15)  # spreads (band, value) over partitions


@dataclass(frozen=True)
class Samples:
    """One evidence folder's fingerprints as arrays, in (file, offset) order, files ranked by
    their first time; windows as in the loop check."""

    files: list[str]
    file_rank: np.ndarray
    t: np.ndarray  # epoch seconds
    tf: np.ndarray
    sessions: np.ndarray
    cameras: np.ndarray
    u: np.ndarray
    moving: np.ndarray
    starts: np.ndarray  # window start samples


def fingerprints(folder: Path) -> pa.Table:
    """A folder's fingerprints (from its timeline where the scan predates the file)."""
    path = folder / "fingerprints.parquet"
    if path.is_file():
        return store.read_table(path).select(schemas.FINGERPRINTS.names)
    timeline = folder / "timeline.parquet"
    if not timeline.is_file():
        raise ValueError(f"{folder}: not an evidence folder (no fingerprints.parquet)")
    if "motion_grid" not in pq.read_schema(timeline).names:
        raise ValueError(f"{folder}: scanned before motion fingerprints were kept; scan again")
    # only the fingerprint columns: a timeline also holds every person box of every sample
    names = schemas.FINGERPRINTS.names
    return store.read_table(timeline, columns=names).select(names).cast(schemas.FINGERPRINTS)


def load_samples(folder: Path) -> Samples:
    """Read and order a folder's fingerprints (see :class:`Samples`)."""
    fp = fingerprints(Path(folder))
    fp = fp.filter(pc.and_(pc.is_valid(fp["motion_grid"]), pc.is_valid(fp["source_file"])))
    encoded = fp["source_file"].combine_chunks().dictionary_encode()
    names, code = encoded.dictionary.to_pylist(), encoded.indices.to_numpy()
    t = fp["t"].cast(pa.int64()).to_numpy(zero_copy_only=False) / 1000.0
    tf = np.asarray(fp["t_file_s"].to_numpy(zero_copy_only=False), dtype=np.float64)
    order, ranks, files = sample_order(code, names, t, tf)
    t, tf = t[order], tf[order]
    grids = fp["motion_grid"].take(pa.array(order)).combine_chunks()  # fixed 64 bytes, no nulls
    cells = np.frombuffer(
        grids.buffers()[1], dtype=np.uint8, count=64 * len(grids), offset=64 * grids.offset
    )
    u, moving = grid_vectors(cells.reshape(-1, 64))
    sessions = np.asarray(fp["session_id"].take(pa.array(order)).to_pylist(), dtype=object)
    cameras = np.asarray(fp["camera_id"].take(pa.array(order)).to_pylist(), dtype=object)
    starts = window_starts(moving, ranks)
    return Samples(files, ranks, t, tf, sessions, cameras, u, moving, starts)


def partition_of(band: np.ndarray, value: np.ndarray, partitions: int) -> np.ndarray:
    """The partition of each (band, band value)."""
    h = (value.astype(np.uint64) * np.uint64(BANDS) + band.astype(np.uint64)) * MIX
    return ((h >> np.uint64(40)) % np.uint64(partitions)).astype(np.int64)


def band_rows(folder_index: int, folder: Path, partitions: int) -> list[dict[str, np.ndarray]]:
    """Task 1: the folder's (window, band) rows, split into ``partitions``."""
    s = load_samples(folder)
    keys = window_keys(s.u, s.starts).astype(np.int16)  # (BANDS, windows); 12-bit values
    n = keys.shape[1]
    band = np.repeat(np.arange(BANDS, dtype=np.int8), n)
    window = np.tile(np.arange(n, dtype=np.int32), BANDS)
    part = partition_of(band, keys.ravel(), partitions)
    # where each window is (file, offset in ms) and the folder's sample step (ms): enough to
    # nominate file pairs without reading the folders again
    where = np.stack([s.file_rank[s.starts], np.round(1000 * s.tf[s.starts])], axis=1)
    step = round(1000 * sample_step(s.tf, s.file_rank))
    out = []
    for p in range(partitions):
        sel = np.flatnonzero(part == p)
        out.append(
            {
                "band": band[sel],
                "folder": np.full(len(sel), folder_index, dtype=np.int32),
                "window": window[sel],
                "keys": keys.T[window[sel]],  # (rows, BANDS)
                "where": where[window[sel]].astype(np.int32),
                "step": np.full(len(sel), step, dtype=np.int32),
            }
        )
    return out


def _hamming(keys: np.ndarray, a: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.bitwise_count(np.bitwise_xor(keys[a], keys[c]).astype(np.uint16)).sum(axis=1)


def partition_pairs(parts: Sequence[dict[str, np.ndarray]], groups: int) -> list[np.ndarray]:
    """Task 2: window pairs across folders in one partition, as rows of ``PAIR_COLUMNS``
    (``folder_x < folder_y``), split into ``groups`` by folder pair."""
    empty = [np.zeros((0, len(PAIR_COLUMNS)), dtype=np.int64) for _ in range(groups)]
    parts = [p for p in parts if len(p["band"])]
    if not parts:
        return empty
    band = np.concatenate([p["band"] for p in parts])
    folder = np.concatenate([p["folder"] for p in parts])
    window = np.concatenate([p["window"] for p in parts])
    keys = np.concatenate([p["keys"] for p in parts])
    where = np.concatenate([p["where"] for p in parts]).astype(np.int64)
    step = np.concatenate([p["step"] for p in parts]).astype(np.int64)
    found = []
    for b in np.unique(band):
        rows = np.flatnonzero(band == b)
        sub_keys, sub_folder = keys[rows], folder[rows]

        def accept(a: np.ndarray, c: np.ndarray, k=sub_keys, f=sub_folder) -> np.ndarray:
            return (f[a] != f[c]) & (_hamming(k, a, c) <= MAX_HAMMING)

        pairs = band_pairs(sub_keys.T.astype(np.int64), int(b), accept)
        if len(pairs):
            found.append(rows[pairs])
    if not found:
        return empty
    pairs = np.concatenate(found)
    x, y = pairs[:, 0], pairs[:, 1]
    swap = folder[x] > folder[y]
    x, y = np.where(swap, y, x), np.where(swap, x, y)
    columns = [folder[x], window[x], folder[y], window[y], *where[x].T, *where[y].T]
    table = np.unique(np.stack([*columns, np.maximum(step[x], step[y])], axis=1), axis=0)
    group = table[:, 0] % groups  # a folder's pairs together: it is read once per group
    return [table[group == g] for g in range(groups)]


def file_pairs(pairs: np.ndarray, min_loop_s: float) -> list[tuple[int, int, np.ndarray]]:
    """Task 3a, on one folder pair's joined rows alone: ``(file of x, file of y, rows)``
    where ``MIN_SEEDS`` joined windows of two files fall at one lag and close in time, as the
    loop search asks of its seeds (chance look-alikes of two rooms fall at scattered lags)."""
    if not len(pairs):
        return []
    fx, tx, fy, ty = (pairs[:, k] for k in (4, 5, 6, 7))
    lag, at, wy = (ty - tx) / 1000.0, ty / 1000.0, pairs[:, 3]
    step = float(pairs[:, 8].max()) / 1000.0
    order = np.lexsort((fy, fx))
    cuts = np.flatnonzero(np.diff(fx[order]) | np.diff(fy[order])) + 1
    out = []
    for group in np.split(order, cuts):
        if len(group) < MIN_SEEDS:
            continue  # most file pairs: one chance look-alike window
        kept = [
            sel[chain]
            for cluster in lag_clusters(lag[group], step)
            for sel in [group[cluster]]
            for chain in chains(at[sel], min_loop_s / 2)
            if len(np.unique(wy[sel[chain]])) >= MIN_SEEDS
        ]
        if kept:
            out.append((int(fx[group[0]]), int(fy[group[0]]), pairs[np.concatenate(kept)]))
    return out


@dataclass(frozen=True)
class Stretch:
    """A repeated stretch between two files: ``orig`` (the earlier file's samples) is
    repeated by ``copy``; sample indices into each side's :class:`Samples`."""

    orig_side: int  # 0: x, 1: y
    o0: int
    c0: int
    c1: int
    similarity: float
    matched: int
    lag: float
    step: float


def search_files(
    x: Samples, y: Samples, nominated: tuple[int, int, np.ndarray], min_loop_s: float
) -> list[Stretch]:
    """Task 3b: the loop search over the samples of the two nominated files alone, from their
    seeds; only stretches between the two files (within one is that folder's own finding)."""
    fx, fy, rows = nominated
    seeds = np.stack([x.starts[rows[:, 1]], y.starts[rows[:, 3]]], axis=1)
    ix = np.flatnonzero(x.file_rank == fx)
    iy = np.flatnonzero(y.file_rank == fy)
    y_first = (y.t[iy[0]], 1) < (x.t[ix[0]], 0)  # the earlier file is ranked first
    sides = [(x, ix), (y, iy)]
    if y_first:
        sides.reverse()
    n0 = len(sides[0][1])
    u = np.concatenate([s.u[i] for s, i in sides])
    moving = np.concatenate([s.moving[i] for s, i in sides])
    tf = np.concatenate([s.tf[i] for s, i in sides])
    rank = np.repeat([0, 1], [n0, len(sides[1][1])]).astype(np.int64)
    at_x, at_y = np.searchsorted(ix, seeds[:, 0]), np.searchsorted(iy, seeds[:, 1])
    pairs = np.stack([at_y, at_x + n0] if y_first else [at_x, at_y + n0], axis=1)
    step = sample_step(tf, rank)
    out = []
    for c0, c1, o0, sim, matched, lag in search(u, moving, tf, rank, min_loop_s, pairs):
        out.append(
            Stretch(
                1 if y_first else 0,
                int(sides[0][1][o0]),
                int(sides[1][1][c0 - n0]),
                int(sides[1][1][c1 - n0]),
                float(sim),
                int(matched),
                float(lag),
                step,
            )
        )
    return out
