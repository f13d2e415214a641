"""The motion index: SimHash band keys of windows of motion grids, and the banded join.

Kept apart from the loop finder so that a crosscheck over many evidence folders hashes and
joins the same way (the hyperplanes are fixed, so keys are comparable across scans). See
:mod:`pipeline.findings.loops` for why motion, and the measured similarities.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

WINDOW = 4  # consecutive samples per hashed window
BANDS = 10
BAND_BITS = 12
MAX_BUCKET = 64  # a band value shared by more windows is split by further bands
SPLITS = 3
GRID_CELLS = 64
SEED_SIM = 0.75  # window cosine of a candidate pair


def grid_vectors(values: Sequence[bytes | None] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``motion_grid`` values (or their cells as a ``(N, 64)`` array) -> centred unit vectors
    ``(N, 64)`` and a moving mask."""
    if isinstance(values, np.ndarray):
        raw = values.astype(np.float32).reshape(len(values), GRID_CELLS)
    else:
        raw = np.zeros((len(values), GRID_CELLS), np.float32)
        for i, v in enumerate(values):
            if v is not None and len(v) == GRID_CELLS:
                raw[i] = np.frombuffer(v, dtype=np.uint8)
    moving = raw.sum(axis=1) > 0
    u = raw - raw.mean(axis=1, keepdims=True)
    u /= np.linalg.norm(u, axis=1, keepdims=True) + 1e-6
    u[~moving] = 0.0
    return u, moving


def sample_order(
    code: np.ndarray, names: Sequence[str], t: np.ndarray, tf: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The order in which the loop search reads samples: files ranked by their first time
    (then name), samples in file order, a sample analysed twice (overlapping chunks) once.

    ``code`` indexes ``names`` per sample; returns the kept samples' indices in that order,
    their file ranks, and the file names by rank."""
    first = np.full(len(names), np.inf)
    np.minimum.at(first, code, t)
    by_time = sorted(range(len(names)), key=lambda k: (first[k], names[k]))
    rank = np.empty(len(names), dtype=np.int64)
    rank[by_time] = np.arange(len(names))
    ranks = rank[code]
    order = np.lexsort((tf, ranks))
    r, f = ranks[order], tf[order]
    keep = np.ones(len(order), dtype=bool)
    keep[1:] = (r[1:] != r[:-1]) | (np.abs(f[1:] - f[:-1]) >= 1e-3)
    return order[keep], r[keep], [names[k] for k in by_time]


def _planes(dim: int) -> np.ndarray:
    """The fixed random hyperplanes: the same in every scan, so fingerprints stay comparable
    across evidence folders (crosscheck)."""
    return np.random.default_rng(18).standard_normal((dim, BANDS * BAND_BITS)).astype(np.float32)


def window_keys(u: np.ndarray, starts: np.ndarray, chunk: int = 100_000) -> np.ndarray:
    """Band keys ``(BANDS, n)`` of the windows at ``starts`` (in chunks: bounded memory)."""
    planes = _planes(WINDOW * GRID_CELLS)
    weights = 1 << np.arange(BAND_BITS, dtype=np.int64)
    out = np.empty((BANDS, len(starts)), dtype=np.int64)
    for i in range(0, len(starts), chunk):
        s = starts[i : i + chunk]
        vec = np.concatenate([u[s + k].astype(np.float32) for k in range(WINDOW)], axis=1)
        bits = (vec @ planes > 0).reshape(len(s), BANDS, BAND_BITS)
        out[:, i : i + chunk] = (bits * weights).sum(axis=2).T
    return out


def window_similarity(u: np.ndarray, a: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Cosine of the windows starting at samples ``a`` and ``c`` (mean of the samples')."""
    total = np.zeros(len(a), dtype=np.float32)
    for k in range(WINDOW):
        total += np.einsum("ij,ij->i", u[a + k].astype(np.float32), u[c + k].astype(np.float32))
    return total / WINDOW


def window_starts(moving: np.ndarray, file_rank: np.ndarray) -> np.ndarray:
    """Sample indices that start a window: ``WINDOW`` consecutive moving samples of one file
    (samples sorted by file, then offset)."""
    n = len(moving)
    ok = moving.copy()
    for k in range(1, WINDOW):
        nxt = np.zeros(n, dtype=bool)
        nxt[: n - k] = moving[k:] & (file_rank[k:] == file_rank[: n - k])
        ok &= nxt
    return np.flatnonzero(ok)


def band_pairs(keys: np.ndarray, band: int, accept: Callable[[np.ndarray, np.ndarray], np.ndarray]):
    """``(i, j)`` column pairs (``i < j``) of ``keys`` ``(BANDS, n)`` that share band ``band``
    and that ``accept(i, j)`` (a boolean mask) keeps: one sort, then pairs only inside buckets
    of at most ``MAX_BUCKET``. A bigger bucket (a room's usual motion, common to all its
    sessions) is split again by the next band's bits, up to ``SPLITS`` times: an exact copy
    shares every band, so it stays together. Shared with the crosscheck, whose partitions hold
    one band's rows of many evidence folders."""
    found: list[np.ndarray] = []
    members = np.arange(keys.shape[1])
    key = keys[band].astype(np.int64)
    for level in range(SPLITS + 1):
        order = members[np.argsort(key[members], kind="stable")]
        sk = key[order]
        cuts = np.flatnonzero(np.diff(sk)) + 1
        lo = np.concatenate([[0], cuts]).astype(np.int64)
        sizes = np.diff(np.concatenate([lo, [len(sk)]]))
        for size in np.unique(sizes[(sizes >= 2) & (sizes <= MAX_BUCKET)]):
            # every bucket of this size at once: a (buckets, size) member table
            firsts = lo[sizes == size]
            table = np.sort(order[firsts[:, None] + np.arange(size)[None, :]], axis=1)
            i, j = np.triu_indices(int(size), k=1)
            a, c = table[:, i].ravel(), table[:, j].ravel()
            ok = accept(a, c)
            found.append(np.stack([a[ok], c[ok]], axis=1))
        big = sizes > MAX_BUCKET
        if not big.any() or level == SPLITS:
            break
        members = np.concatenate(
            [order[x : x + n] for x, n in zip(lo[big], sizes[big], strict=True)]
        )
        key = key * (1 << BAND_BITS) + keys[(band + level + 1) % len(keys)]
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    return np.concatenate(found)


def candidate_pairs(u: np.ndarray, keys: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``(earlier, later)`` sample index pairs of windows that share a band (see
    :func:`band_pairs`) and whose cosine reaches ``SEED_SIM``."""

    def similar(a: np.ndarray, c: np.ndarray) -> np.ndarray:
        return window_similarity(u, starts[a], starts[c]) >= SEED_SIM

    found = [band_pairs(keys, b, similar) for b in range(len(keys))]
    pairs = np.concatenate(found)
    if not len(pairs):
        return np.zeros((0, 2), dtype=np.int64)
    return np.unique(starts[pairs], axis=0)
