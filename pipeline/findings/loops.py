"""Looped or re-used footage: a stretch that repeats earlier footage, anywhere in the batch.

Works on two 64-bit values per sample over the whole batch's timeline (all sessions and
cameras), so months of footage cost a few MB and one sort per band:

* ``motion_cells``: which 8x8 cells of the picture changed since the previous sample. A
  static scene with sensor noise sets none (and hashes the same sample after sample, and the
  same as every other day in that room), so it is never evidence of a loop; the pattern of
  where people moved, sample after sample, is.
* ``fingerprint``: the DCT hash of the picture, so the copy shows the same scene.

1. Candidate pairs share one of four non-empty 16-bit bands of ``motion_cells`` exactly
   (locality-sensitive hashing), and agree in both values (``MATCH_BITS``, ``MIN_OVERLAP``).
   The later sample is the copy.
2. Pairs of the same two files vote for a lag (copy offset minus original offset). Pairs with
   the same lag (within a sample step, since the copy may be sampled at another phase) and
   close in time form a chain; a chain of ``MIN_ACTIVE`` matches is extended sample by sample
   while the aligned samples still agree, and reported when it lasts ``rules.min_loop_s``.
3. :func:`pipeline.refine.refine_events` then compares the copy's frames with the original's
   around each end to place it to a fraction of a second.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.config import Rules
from pipeline.findings import SessionContext
from pipeline.findings.picture import column, utc
from pipeline.records import Event
from pipeline.signals.fingerprint import hamming, popcount
from pipeline.signals.picture import is_black

MATCH_BITS = 10
MIN_OVERLAP = 0.5  # share of changed cells two matching samples have in common
EXTEND_OVERLAP = 0.3
MIN_ACTIVE = 4
MIN_SEEDED = 0.5  # share of the stretch's moving samples that matched as seeds
MAX_CANDIDATES = 3  # nominations of one copied stretch (different originals or lags)
MAX_BUCKET = 400  # a band value shared by more samples carries no information
BANDS = 4


def find_loops(timeline: pa.Table, contexts: Sequence[SessionContext], rules: Rules) -> list[Event]:
    """``looped_footage`` events over the whole batch's timeline (see the module doc)."""
    if timeline.num_rows == 0 or "fingerprint" not in timeline.column_names:
        return []
    fp_col = timeline["fingerprint"]
    ok = ~np.asarray(fp_col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    luma = column(timeline, "brightness")
    std = column(timeline, "contrast")
    black = is_black(np.nan_to_num(luma, nan=255.0), np.nan_to_num(std, nan=255.0))
    files_all = np.asarray(timeline["source_file"].to_pylist(), dtype=object)
    tf_all = column(timeline, "t_file_s")
    keep = ok & ~black & (files_all != None) & np.isfinite(tf_all)  # noqa: E711
    if keep.sum() < 2 * MIN_ACTIVE:
        return []
    fp = np.asarray(fp_col.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.uint64)[keep]
    if "motion_cells" not in timeline.column_names:
        return []
    mc = np.asarray(
        timeline["motion_cells"].fill_null(0).to_numpy(zero_copy_only=False), dtype=np.uint64
    )[keep]
    t = (timeline["t"].cast(pa.int64()).to_numpy(zero_copy_only=False) / 1000.0)[keep]
    files = files_all[keep]
    tf = tf_all[keep]
    sessions = np.asarray(timeline["session_id"].to_pylist(), dtype=object)[keep]
    cameras = np.asarray(timeline["camera_id"].to_pylist(), dtype=object)[keep]

    # one row per (file, offset), files in order of their first time, samples in file order
    first_t: dict[str, float] = {}
    for name, ti in zip(files, t, strict=True):
        first_t[name] = min(first_t.get(name, ti), ti)
    rank = {name: r for r, name in enumerate(sorted(first_t, key=lambda f: (first_t[f], f)))}
    file_rank = np.fromiter((rank[f] for f in files), dtype=np.int64, count=len(files))
    order = np.lexsort((tf, file_rank))
    fp, mc, t, files, tf, sessions, cameras, file_rank = (
        a[order] for a in (fp, mc, t, files, tf, sessions, cameras, file_rank)
    )
    dup = np.zeros(len(fp), dtype=bool)
    dup[1:] = (file_rank[1:] == file_rank[:-1]) & (np.abs(tf[1:] - tf[:-1]) < 1e-3)
    fp, mc, t, files, tf, sessions, cameras, file_rank = (
        a[~dup] for a in (fp, mc, t, files, tf, sessions, cameras, file_rank)
    )
    n = len(fp)
    same_file_prev = np.zeros(n, dtype=bool)
    same_file_prev[1:] = file_rank[1:] == file_rank[:-1]
    active = same_file_prev & (mc != 0)
    steps = np.diff(tf)[same_file_prev[1:]]
    step = float(np.median(steps[steps > 0])) if np.any(steps > 0) else 1.0

    pairs = _candidate_pairs(fp, mc, np.flatnonzero(active))
    if not len(pairs):
        return []
    orig, copy = pairs[:, 0], pairs[:, 1]
    same = file_rank[orig] == file_rank[copy]
    lag = tf[copy] - tf[orig]
    valid = ~same | (lag >= rules.min_loop_s - step)
    orig, copy, lag = orig[valid], copy[valid], lag[valid]

    file_bounds = {
        r: (int(np.searchsorted(file_rank, r)), int(np.searchsorted(file_rank, r, "right")))
        for r in np.unique(file_rank)
    }
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for k in range(len(orig)):
        groups[(int(file_rank[orig[k]]), int(file_rank[copy[k]]))].append(k)

    by_session = {c.session.session_id: c for c in contexts}
    events: list[Event] = []
    covered: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for (fo, fc), ks in groups.items():
        ks_arr = np.asarray(ks)
        for cluster in _lag_clusters(lag[ks_arr], step):
            sel = ks_arr[cluster]
            for chain in _chains(tf[copy[sel]], step, rules.min_loop_s):
                members = sel[chain]
                if len(members) < MIN_ACTIVE:
                    continue
                span = _extend(
                    fp,
                    mc,
                    tf,
                    file_bounds[fo],
                    file_bounds[fc],
                    copy[members],
                    float(np.median(lag[members])),
                    step,
                )
                if span is None:
                    continue
                c0, c1, o0, dist = span
                dur = tf[c1] - tf[c0] + step
                if dur < rules.min_loop_s - step / 2:
                    continue
                # the same stretch nominated again through another original: keep a few,
                # frame-by-frame verification (refine_events) tells the real one
                same_stretch = [1 for a, b in covered[fc] if a <= tf[c1] and tf[c0] <= b]
                if len(same_stretch) >= MAX_CANDIDATES:
                    continue
                covered[fc].append((float(tf[c0]), float(tf[c1])))
                events.extend(
                    _events(
                        c0,
                        c1,
                        o0,
                        dist,
                        len(members),
                        step,
                        t,
                        tf,
                        files,
                        sessions,
                        cameras,
                        by_session,
                        rules.min_loop_s,
                    )
                )
    return events


def overlap(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """Jaccard overlap of two sets of changed cells (1 when both are empty)."""
    a = np.asarray(a, dtype=np.uint64)
    b = np.asarray(b, dtype=np.uint64)
    union = popcount(np.bitwise_or(a, b)).astype(np.float64)
    inter = popcount(np.bitwise_and(a, b)).astype(np.float64)
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def _candidate_pairs(fp: np.ndarray, mc: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``(earlier, later)`` index pairs of changing samples that agree in where and what."""
    found: set[tuple[int, int]] = set()
    for b in range(BANDS):
        key = ((mc[idx] >> np.uint64(16 * b)) & np.uint64(0xFFFF)).astype(np.int64)
        order = np.argsort(key, kind="stable")
        sk = key[order]
        cuts = np.flatnonzero(np.diff(sk)) + 1
        for grp in np.split(order, cuts):
            if len(grp) < 2 or len(grp) > MAX_BUCKET or key[grp[0]] == 0:
                continue
            members = np.sort(idx[grp])
            i, j = np.triu_indices(len(members), k=1)
            a, c = members[i], members[j]
            ok = (hamming(fp[a], fp[c]) <= MATCH_BITS) & (overlap(mc[a], mc[c]) >= MIN_OVERLAP)
            found.update(zip(a[ok].tolist(), c[ok].tolist(), strict=True))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    return np.asarray(sorted(found), dtype=np.int64)


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


def _chains(copy_t: np.ndarray, step: float, min_loop_s: float) -> list[np.ndarray]:
    """Runs of matched copy times with no hole longer than half a loop (static moments)."""
    order = np.argsort(copy_t)
    gap = max(4 * step, min_loop_s / 2)
    out, cur = [], [order[0]]
    for a, b in itertools.pairwise(order):
        if copy_t[b] - copy_t[a] <= gap:
            cur.append(b)
        else:
            out.append(np.asarray(cur))
            cur = [b]
    out.append(np.asarray(cur))
    return out


def _aligned(tf: np.ndarray, bounds: tuple[int, int], target: float, step: float) -> list[int]:
    """Original samples within a step of ``target``: the lag is known only to a step, and the
    copy may be sampled at another phase."""
    lo, hi = bounds
    j = lo + int(np.searchsorted(tf[lo:hi], target))
    return [k for k in (j - 1, j, j + 1) if lo <= k < hi and abs(tf[k] - target) <= 1.01 * step]


def _extend(fp, mc, tf, orig_bounds, copy_bounds, copy_idx, lag, step):
    """Grow the matched stretch sample by sample while aligned samples agree.

    Growing uses a tighter hash bound than the seeds (1.5 x the seeds' typical distance):
    around the copy, the same room with people elsewhere can come within ``MATCH_BITS`` by
    chance. Still samples match still samples (a loop may hold quiet moments).
    """
    lo, hi = copy_bounds

    def distance(c: int, bits: int = MATCH_BITS) -> tuple[int, int | None]:
        """Closest aligned original sample: fewest differing bits, then most cells in
        common, then nearest the lag (a still room ties on the hash)."""
        best: tuple[tuple[int, float, float], int | None] = ((64, 0.0, 0.0), None)
        target = tf[c] - lag
        for o in _aligned(tf, orig_bounds, target, step):
            d = int(hamming(fp[o], fp[c]))
            ov = float(overlap(mc[o], mc[c]))
            if o == c or d > bits or ov < EXTEND_OVERLAP:
                continue
            key = (d, -ov, abs(float(tf[o]) - target))
            if key < best[0]:
                best = (key, o)
        return best[0][0], best[1]

    seeds = {int(c): distance(int(c))[0] for c in copy_idx}
    bound = min(MATCH_BITS, max(4, int(1.5 * float(np.median(list(seeds.values())))) + 2))
    verified = [c for c, d in seeds.items() if d <= bound]  # at the chain's own lag
    if len(verified) < MIN_ACTIVE:
        return None
    c0, c1 = min(verified), max(verified)
    while c0 - 1 >= lo and distance(c0 - 1, bound)[1] is not None:
        c0 -= 1
    while c1 + 1 < hi and distance(c1 + 1, bound)[1] is not None:
        c1 += 1
    aligned = [distance(c) for c in range(c0, c1 + 1)]
    good = [d for d, o in aligned if o is not None]
    if len(good) < 0.8 * len(aligned) or aligned[0][1] is None:
        return None
    # most samples that show movement in the stretch must have matched on their own: a room
    # where the same people keep moving about matches a few of them at any lag by chance
    moving = int(np.count_nonzero(mc[c0 : c1 + 1]))
    if len(verified) < MIN_SEEDED * moving:
        return None
    return c0, c1, aligned[0][1], float(np.mean(good))


def _events(
    c0, c1, o0, dist, active, step, t, tf, files, sessions, cameras, by_session, min_loop_s
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
            "matched_t_file_s": round(float(tf[o0] + (tf[a] - tf[c0]) - step / 2), 3),
            "matched_session": sessions[o0],
            "matched_camera": cameras[o0],
            "lag_s": round(float(tf[c0] - tf[o0]), 3),
            "mean_distance_bits": round(dist, 2),
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
                confidence=0.9 if dist <= MATCH_BITS / 2 else 0.7,
                details=details,
                source_file=files[a],
            )
        )
    return out
