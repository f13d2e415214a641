"""Camera turned away: each sample's view against the camera's reference view.

Moved out of :mod:`pipeline.findings.picture` (which keeps black and frozen pictures and the
shared session helpers); :mod:`pipeline.refine` applies :func:`view_test` per decoded frame.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pyarrow as pa

from pipeline.findings import SessionContext
from pipeline.findings.picture import (
    SessionSamples,
    boundary_details,
    column,
    make_event,
    state_runs,
)
from pipeline.records import Event
from pipeline.signals.fingerprint import ahash, bit_table, pack, popcount
from pipeline.signals.picture import is_black

# view changed: share of the reference view's stable layout bits (8x8 block average hash)
# that differ. People moving about change a few blocks; a turned camera about half of them.
VIEW_CHANGED = 0.18
VIEW_RESTORED = 0.12
STABLE_AGREEMENT = 0.85  # a reference bit counts when this share of the first minute agrees
MIN_VIEW_BITS = 8
REFERENCE_S = 60.0  # the session's first minute defines its reference view


def reference_view(
    s: SessionSamples, layout: np.ndarray, usable: np.ndarray
) -> tuple[int, int] | None:
    """(majority layout, mask of its stable bits) over the session's first usable minute."""
    idx = np.flatnonzero(usable)
    if not len(idx):
        return None
    first = idx[s.t[idx] < s.t[idx[0]] + REFERENCE_S]
    share = bit_table(layout[first]).mean(axis=0)
    stable = (share >= STABLE_AGREEMENT) | (share <= 1 - STABLE_AGREEMENT)
    if stable.sum() < 16:
        stable[:] = True
    return pack(share > 0.5), pack(stable)


class ViewChangedFinder:
    """Camera turned, zoomed or obstructed relative to the session's reference view.

    The reference is the per-bit majority of the first minute's layout hashes, and only the
    bits that were stable over that minute are compared (people passing through, or blocks
    whose brightness sits near the median, do not count). A sample has changed view when at
    least ``VIEW_CHANGED`` of those bits differ, and is back below ``VIEW_RESTORED``. Black
    samples keep the current state.
    """

    name = "view_changed"

    def __call__(self, timeline: pa.Table, ctx: SessionContext) -> list[Event]:
        s = SessionSamples.of(timeline, ctx.site.analysis.sample_every_s)
        if not len(s) or "layout" not in timeline.column_names:
            return []
        col = timeline["layout"]
        has = ~np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        layout = np.asarray(col.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.uint64)
        luma = column(timeline, "brightness")
        std = column(timeline, "contrast")
        black = is_black(np.nan_to_num(luma, nan=255.0), np.nan_to_num(std, nan=255.0))
        usable = has & ~black
        ref = reference_view(s, layout, usable)
        if ref is None:
            return []
        ref_bits, stable = ref
        dist = view_distance(layout, ref_bits, stable)
        dist[~usable] = np.nan
        changed = np.zeros(len(s), dtype=bool)
        on = False
        for i, d in enumerate(dist):
            if not np.isnan(d):
                on = d >= VIEW_CHANGED or (on and d >= VIEW_RESTORED)
            changed[i] = on
        min_s = ctx.site.rules.min_view_changed_s
        events = []
        for i0, i1 in state_runs(s, changed, min_s=min_s):
            d = dist[i0 : i1 + 1]
            details = {
                "reference_layout": f"{ref_bits:016x}",
                "stable_bits": f"{stable:016x}",
                "changed_share": round(float(np.nanmean(d)), 3),
                "similarity": round(float(1.0 - 2.0 * np.nanmean(d)), 3),
                "samples": i1 - i0 + 1,
                "min_s": min_s,
                "test": "view",
            }
            events.append(make_event("view_changed", ctx, boundary_details(s, i0, i1), details))
        return events


def view_distance(
    layout: np.ndarray | int, ref_bits: int, stable: int, moving: np.ndarray | int = 0
) -> np.ndarray:
    """Share of the stable reference bits, outside moving cells, that differ (0 same view,
    ~0.5 unrelated; NaN when movement hides nearly all of them)."""
    mask = np.bitwise_and(np.uint64(stable), np.bitwise_not(np.asarray(moving, dtype=np.uint64)))
    x = np.bitwise_and(
        np.bitwise_xor(np.asarray(layout, dtype=np.uint64), np.uint64(ref_bits)), mask
    )
    n = np.atleast_1d(popcount(mask)).astype(np.float64)
    d = np.atleast_1d(popcount(np.atleast_1d(x))).astype(np.float64) / np.maximum(n, 1)
    return np.where(n >= MIN_VIEW_BITS, d, np.nan)


def view_test(details: Mapping) -> Callable[[np.ndarray], bool] | None:
    """Per-frame test for refinement: luma image -> turned away from the event's reference?"""
    if "reference_layout" not in details:
        return None
    ref = int(details["reference_layout"], 16)
    stable = int(details["stable_bits"], 16)
    share = (VIEW_CHANGED + VIEW_RESTORED) / 2
    return lambda g: float(view_distance(ahash(g), ref, stable)[0]) >= share
