"""Looped or re-used footage: a stretch that repeats earlier footage, anywhere in the batch.

Works on what *moves*: per sample, ``motion_grid`` (signals/fingerprint.py) holds each of 8x8
cells' share of the motion energy since the previous sample, measured on brightness- and
contrast-normalised thumbnails. The static room (the same every day) contributes nothing, so
two sessions of one room differ while a re-encoded, re-lit, rescaled or slightly cropped copy
keeps its grids (measured on the robustness matrix, benchmarks/bench_reuse.py: aligned copy
samples mostly score a cosine of 0.85-1.0 after CRF 33, scale 0.71, +6 % brightness, gamma, crop 5 %
and 25->10 fps; another session of the same room about 0.1, 99th percentile 0.87 for single
samples, hence windows of several samples).

The old search (exact 16-bit bands of ``motion_cells``, a 10-bit pHash bound, raw grey-level
frame checks) missed the issue's export (scale 0.71 and back, +6 %, CRF 33): a crop or
rescale moves the changed-cell bits, and the frame check compared raw grey levels.

1. Candidates: windows of ``WINDOW`` consecutive moving samples of one file (the centred,
   unit grid of each, concatenated) get a random-hyperplane hash (SimHash, ``BANDS`` x
   ``BAND_BITS`` bits, fixed seed). Windows sharing one band exactly are candidate pairs:
   one sort per band; a bucket of more than ``MAX_BUCKET`` (a room's usual motion) is split
   again by the next bands, so the search stays near linear in the batch (a cosine of 0.85
   shares one of ten 12-bit bands with p ~ 0.6, an unrelated window with p ~ 0.003). The
   pair's cosine must reach ``SEED_SIM``. The later window is the copy.
2. Seeds of two files vote for a lag (within a sample step: the copy may be sampled at another
   phase or frame rate); a lag needs ``MIN_SEEDS`` windows close in time. The lag is refined
   to a quarter step (neighbouring original samples mixed by phase), then the stretch is
   grown sample by sample while the aligned samples' windowed agreement stays above
   ``EXTEND_SIM`` (a still sample agrees with a still one: a loop may hold quiet moments),
   and reported when it lasts ``rules.min_loop_s`` with ``MIN_ACTIVE`` moving samples that
   match on their own and a mean agreement of ``STRETCH_SIM``. A still scene repeated has no
   moving samples, so it is never a loop.
3. :func:`pipeline.refine.refine_events` (``pipeline.refine_loop``) then verifies the copy
   frame by frame (aligned in time, geometry and brightness) and places its ends.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.findings import SessionContext
from pipeline.findings.motion_index import (
    WINDOW,
    candidate_pairs,
    grid_vectors,
    sample_order,
    window_keys,
    window_starts,
)
from pipeline.findings.picture import black_samples, column, utc
from pipeline.inputs.config import Rules
from pipeline.records import Event

MIN_SEEDS = 2  # candidate windows at one lag within half a loop
EXTEND_SIM = 0.5  # windowed agreement while growing
MATCH_SIM = 0.7  # a moving sample that matches on its own
STILL_AGREE = 0.6  # a still sample aligned with a still one
# a stretch's mean agreement over its moving samples: exported copies on the matrix 0.78-0.93,
# identical copies 0.99; the look-alike rooms of the samples (same layout, seats, poses)
# mostly 0.6-0.75, so this keeps frame-by-frame verification to a few candidates
STRETCH_SIM = 0.74
MIN_ACTIVE = 4
MIN_SEEDED = 0.5  # share of the stretch's moving samples that match on their own
MAX_CANDIDATES = 2  # nominations of one copied stretch (different originals or lags)


def find_loops(timeline: pa.Table, contexts: Sequence[SessionContext], rules: Rules) -> list[Event]:
    """``looped_footage`` events over the whole batch's timeline (see the module doc)."""
    if timeline.num_rows == 0 or "motion_grid" not in timeline.column_names:
        return []
    grid_col = timeline["motion_grid"]
    ok = ~np.asarray(grid_col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    black = black_samples(timeline, rules)
    files_all = np.asarray(timeline["source_file"].to_pylist(), dtype=object)
    tf_all = column(timeline, "t_file_s")
    keep = ok & ~black & (files_all != None) & np.isfinite(tf_all)  # noqa: E711
    if keep.sum() < 2 * MIN_ACTIVE:
        return []
    grids = np.asarray(grid_col.to_pylist(), dtype=object)[keep]
    t = (timeline["t"].cast(pa.int64()).to_numpy(zero_copy_only=False) / 1000.0)[keep]
    files = files_all[keep]
    tf = tf_all[keep]
    sessions = np.asarray(timeline["session_id"].to_pylist(), dtype=object)[keep]
    cameras = np.asarray(timeline["camera_id"].to_pylist(), dtype=object)[keep]

    # one row per (file, offset), files in order of their first time, samples in file order
    names, code = np.unique(files.astype(str), return_inverse=True)
    order, file_rank, _ = sample_order(code, list(names), t, tf)
    grids, t, files, tf, sessions, cameras = (
        a[order] for a in (grids, t, files, tf, sessions, cameras)
    )
    u, moving = grid_vectors(list(grids))
    step = sample_step(tf, file_rank)
    by_session = {c.session.session_id: c for c in contexts}
    events: list[Event] = []
    for c0, c1, o0, sim, matched, lag in search(u, moving, tf, file_rank, rules.min_loop_s):
        events += _events(
            c0,
            c1,
            o0,
            sim,
            matched,
            lag,
            step,
            t,
            tf,
            files,
            sessions,
            cameras,
            by_session,
            rules.min_loop_s,
        )
    return events


def sample_step(tf: np.ndarray, file_rank: np.ndarray) -> float:
    """The typical sampling step inside files."""
    same = file_rank[1:] == file_rank[:-1]
    steps = np.diff(tf)[same]
    return float(np.median(steps[steps > 0])) if np.any(steps > 0) else 1.0


def search(
    u: np.ndarray,
    moving: np.ndarray,
    tf: np.ndarray,
    file_rank: np.ndarray,
    min_loop_s: float,
    seeds: np.ndarray | None = None,
) -> list[tuple[int, int, int, float, int, float]]:
    """Repeated stretches ``(c0, c1, o0, similarity, matched, lag)`` (sample indices: the
    copy's first and last sample, the original's first; the lag in seconds) over samples
    sorted by (file, offset), files ranked by time. Pure arrays, so a crosscheck over many
    evidence folders and the benchmark run the same search. ``seeds``: the ``(earlier,
    later)`` window-start pairs, when a join elsewhere already found them (the crosscheck's)."""
    step = sample_step(tf, file_rank)
    if seeds is not None:
        pairs = seeds
    else:
        starts = window_starts(moving, file_rank)
        if len(starts) < 2:
            return []
        pairs = candidate_pairs(u, window_keys(u, starts), starts)
    if not len(pairs):
        return []
    orig, copy = pairs[:, 0], pairs[:, 1]
    same = file_rank[orig] == file_rank[copy]
    lag = tf[copy] - tf[orig]
    valid = ~same | (lag >= min_loop_s - step)
    orig, copy, lag = orig[valid], copy[valid], lag[valid]
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for k in range(len(orig)):
        groups[(int(file_rank[orig[k]]), int(file_rank[copy[k]]))].append(k)

    def bounds(r: int) -> tuple[int, int]:
        return int(np.searchsorted(file_rank, r)), int(np.searchsorted(file_rank, r, "right"))

    spans = []
    for (fo, fc), ks in sorted(groups.items()):
        ks_arr = np.asarray(ks)
        for cluster in _lag_clusters(lag[ks_arr], step):
            for chain in _chains(tf[copy[ks_arr[cluster]]], min_loop_s / 2):
                sel = ks_arr[cluster][chain]
                # windows at one lag, close in time: a chance look-alike seldom repeats
                if len(np.unique(copy[sel])) < MIN_SEEDS:
                    continue
                seed = int(copy[sel][len(sel) // 2])
                lag_c = float(np.median(lag[sel]))
                span = _extend(u, moving, tf, bounds(fo), bounds(fc), seed, lag_c, step)
                if span is not None and tf[span[1]] - tf[span[0]] + step >= min_loop_s - step / 2:
                    spans.append((fc, span))
    # the same stretch nominated through several originals or lags: the best few (most
    # similar, most matched samples) go on to frame-by-frame verification
    spans.sort(key=lambda fs: (-round(fs[1][3], 2), -fs[1][4]))
    out: list[tuple[int, int, int, float, int, float]] = []
    covered: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for fc, span in spans:
        a, b = float(tf[span[0]]), float(tf[span[1]])
        if sum(x <= b and a <= y for x, y in covered[fc]) >= MAX_CANDIDATES:
            continue
        covered[fc].append((a, b))
        out.append(span)
    return out


def _lag_clusters(lags: np.ndarray, step: float) -> list[np.ndarray]:
    order = np.argsort(lags)
    out, cur = [], [order[0]]
    for a, b in itertools.pairwise(order):
        if lags[b] - lags[a] <= 1.5 * step:
            cur.append(b)
        else:
            out.append(np.asarray(cur))
            cur = [b]
    out.append(np.asarray(cur))
    return out


def _chains(copy_t: np.ndarray, gap: float) -> list[np.ndarray]:
    """Indices of ``copy_t`` split where consecutive (sorted) times are ``gap`` apart."""
    order = np.argsort(copy_t, kind="stable")
    cuts = np.flatnonzero(np.diff(copy_t[order]) > gap) + 1
    return np.split(order, cuts)


def _aligned(tf: np.ndarray, bounds: tuple[int, int], target: float, step: float) -> list[int]:
    """Original samples within a step of ``target``: the lag is known only to a step, and the
    copy may be sampled at another phase."""
    lo, hi = bounds
    j = lo + int(np.searchsorted(tf[lo:hi], target))
    return [k for k in (j - 1, j, j + 1) if lo <= k < hi and abs(tf[k] - target) <= 1.01 * step]


def _agreement(u, moving, tf, orig_bounds, c: int, target: float, step: float, loose: bool):
    """``(agreement, nearest original sample)`` of copy sample ``c`` with the original at
    file offset ``target``. Between two original samples the motion of both, mixed by where
    ``target`` falls, stands for the one in between (a copy sampled at another phase sees
    half of each). ``loose``: the best of that and either neighbour."""
    near = [o for o in _aligned(tf, orig_bounds, target, step) if o != c]
    if not near:
        return -1.0, None
    nearest = min(near, key=lambda o: abs(tf[o] - target))
    before = [o for o in near if tf[o] <= target]
    after = [o for o in near if tf[o] > target]
    if abs(tf[nearest] - target) <= 0.05 * step or not (before and after):
        agreement = _pair(u, moving, c, nearest)  # on a sample, or at a file's end
    elif not moving[c]:
        agreement = 0.0 if moving[before[-1]] or moving[after[0]] else STILL_AGREE
    else:
        o0, o1 = before[-1], after[0]
        f = (target - tf[o0]) / max(tf[o1] - tf[o0], 1e-6)
        mix = (1 - f) * u[o0] + f * u[o1]
        norm = float(np.linalg.norm(mix))
        agreement = float(u[c] @ mix) / norm if norm > 1e-3 else 0.0
    if loose:  # growing: either neighbour may stand for it (a quiet, noisy sample)
        agreement = max([agreement, *(_pair(u, moving, c, o) for o in near)])
    return agreement, nearest


def _pair(u, moving, c: int, o: int) -> float:
    if moving[c] and moving[o]:
        return float(u[c] @ u[o])
    return STILL_AGREE if not moving[c] and not moving[o] else 0.0


def _extend(u, moving, tf, orig_bounds, copy_bounds, seed, lag, step):
    """Grow the stretch around ``seed`` while the aligned samples agree (see the module doc).

    The seeds give the lag only to a sample step; it is first refined to a quarter step on the
    seed window (a copy cut or re-timed at any point is sampled at another phase).
    Returns ``(c0, c1, o0, mean similarity of moving samples, moving samples matched, lag)``
    or None when the stretch does not hold up on its own.
    """
    lo, hi = copy_bounds
    seed_idx = range(seed, min(hi, seed + WINDOW))

    def seed_score(lg: float) -> float:
        return float(
            np.mean(
                [
                    _agreement(u, moving, tf, orig_bounds, c, tf[c] - lg, step, False)[0]
                    for c in seed_idx
                ]
            )
        )

    tried = [(seed_score(lag + k * step / 4), -abs(k), lag + k * step / 4) for k in range(-3, 4)]
    lag = max(tried)[2]
    memo: dict[int, tuple[float, int | None]] = {}

    def agree(c: int) -> tuple[float, int | None]:
        if c not in memo:
            memo[c] = _agreement(u, moving, tf, orig_bounds, c, tf[c] - lag, step, True)
        return memo[c]

    def window_ok(first: int) -> bool:
        idx = range(max(lo, first), min(hi, first + WINDOW))
        return float(np.mean([agree(c)[0] for c in idx])) >= EXTEND_SIM

    if not window_ok(seed):
        return None
    c0, c1 = seed, min(hi, seed + WINDOW) - 1
    while c0 - 1 >= lo and window_ok(c0 - 1):
        c0 -= 1
    while c1 + 1 < hi and window_ok(c1 + 2 - WINDOW):
        c1 += 1
    # the ends are samples that agree on their own
    while c0 < c1 and agree(c0)[0] < EXTEND_SIM:
        c0 += 1
    while c1 > c0 and agree(c1)[0] < EXTEND_SIM:
        c1 -= 1
    idx = np.arange(c0, c1 + 1)
    sims = np.asarray([agree(int(c))[0] for c in idx])
    mov = moving[idx]
    matched = int(np.count_nonzero(mov & (sims >= MATCH_SIM)))
    # a room where the same people keep moving about matches a few samples at any lag
    if agree(c0)[1] is None or matched < MIN_ACTIVE or matched < MIN_SEEDED * mov.sum():
        return None
    if float(sims[mov].mean()) < STRETCH_SIM:
        return None
    return c0, c1, agree(c0)[1], float(sims[mov].mean()), matched, lag


def _events(
    c0, c1, o0, sim, active, lag, step, t, tf, files, sessions, cameras, by_session, min_loop_s
):
    """One event per session the copied stretch falls in."""
    out = []
    idx = np.arange(c0, c1 + 1)
    for sid in dict.fromkeys(sessions[idx]):
        part = idx[sessions[idx] == sid]
        a, b = int(part[0]), int(part[-1])
        start, end = utc(t[a] - step / 2), utc(t[b] + step / 2)
        ctx = by_session.get(sid)
        if ctx is not None:
            start = max(start, ctx.session.scheduled_start)
            end = min(end, ctx.session.scheduled_end)
        details: dict[str, Any] = {
            "matched_file": files[o0],
            "matched_t_file_s": round(float(tf[a] - lag - step / 2), 3),
            "matched_session": sessions[o0],
            "matched_camera": cameras[o0],
            "lag_s": round(float(lag), 3),
            "motion_similarity": round(sim, 3),
            "changing_matches": int(active),
            "start_file": files[a],
            "start_t_file_s": round(float(tf[a] - step / 2), 3),
            "end_file": files[b],
            "end_t_file_s": round(float(tf[b] + step / 2), 3),
            "sample_step_s": round(step, 3),
            "min_s": min_loop_s,
        }
        out.append(
            Event(
                kind="looped_footage",
                camera_id=cameras[a],
                session_id=sid,
                start=start,
                end=max(start, end),
                confidence=0.9 if sim >= 0.85 else 0.7,
                details=details,
                source_file=files[a],
            )
        )
    return out
