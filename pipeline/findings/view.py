"""Camera turned away: each sample's view against the camera's usual view.

The reference is the camera's usual view learned over the whole batch (or pinned by a
reference image or an earlier evidence folder; see :mod:`pipeline.findings.usual_view`),
carried in ``SessionContext.views``; without it (a session analysed alone) the session's own
majority view is used. A sample shows another view when its distance to the reference view in
effect at its time (:func:`pipeline.signals.view.distance`, median over cells of the structure
signature) is at least ``rules.view_changed_distance``, and is back below
``rules.view_restored_distance``; a one-sample spike is ignored (median of three). Black
samples keep the current state. A session turned from its first usable sample to its last
says so (``details.whole_session``), with the reference used (``details.reference``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pyarrow as pa

from pipeline.findings import SessionContext
from pipeline.findings.activity import epoch_s
from pipeline.findings.picture import SessionSamples, boundary_details, make_event, state_runs
from pipeline.findings.usual_view import CameraViews, decode_code, learn, usable_samples
from pipeline.inputs.config import Rules
from pipeline.intervals import hysteresis
from pipeline.records import Event
from pipeline.signals import view as sig


def view_distances(
    timeline: pa.Table, views: CameraViews, t: np.ndarray, rules: Rules
) -> np.ndarray:
    """Each sample's distance to the view in effect at its time (NaN where unusable)."""
    hists, usable = usable_samples(timeline, rules)
    dist = np.full(len(t), np.nan)
    if not views.views:
        return dist
    which = views.index_at(t)
    for k, v in enumerate(views.views):
        m = usable & (which == k)
        if m.any():
            dist[m] = sig.distance(hists[m], v.hist)
    return dist


def with_view_similarity(timeline: pa.Table, views: CameraViews | None, rules: Rules) -> pa.Table:
    """The timeline with ``view_similarity`` = 1 - distance to the camera's usual view.

    Written once the batch's usual views are known (they need every session of the camera),
    so an inspector can plot how far each sample is from what the camera should show; null
    where the sample has no usable picture (black, no signature) or no view was learned.
    """
    name = "view_similarity"
    if name not in timeline.column_names or views is None or not timeline.num_rows:
        return timeline
    sim = np.clip(1.0 - view_distances(timeline, views, epoch_s(timeline), rules), 0.0, 1.0)
    col = pa.array(sim.astype(np.float32), pa.float32(), mask=np.isnan(sim))
    return timeline.set_column(timeline.column_names.index(name), name, col)


def _median3(d: np.ndarray) -> np.ndarray:
    """Median of each known value with its known neighbours: one odd sample is no change."""
    idx = np.flatnonzero(~np.isnan(d))
    out = d.copy()
    if len(idx) >= 3:
        v = d[idx]
        padded = np.concatenate([[v[0]], v, [v[-1]]])
        out[idx] = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    return out


class ViewChangedFinder:
    """Camera turned, zoomed or obstructed relative to the camera's usual view."""

    name = "view_changed"

    def __call__(self, timeline: pa.Table, ctx: SessionContext) -> list[Event]:
        s = SessionSamples.of(timeline, ctx.site.analysis.sample_every_s)
        if not len(s) or "view_signature" not in timeline.column_names:
            return []
        rules = ctx.site.rules
        views = ctx.views if ctx.views is not None else learn([(ctx, timeline)], rules)[0]
        dist = _median3(view_distances(timeline, views, s.t, rules))
        known = np.flatnonzero(~np.isnan(dist))
        if not len(known):
            return []
        filled = np.nan_to_num(dist)  # unknown samples keep the state (third argument)
        changed = hysteresis(
            filled >= rules.view_changed_distance,
            filled >= rules.view_restored_distance,
            np.isnan(dist),
        )
        min_s = rules.min_view_changed_s
        which = views.index_at(s.t)
        events = []
        for i0, i1 in state_runs(s, changed, min_s=min_s):
            d = dist[i0 : i1 + 1]
            ref = views.views[int(which[i0])]
            details = {
                "whole_session": bool(i0 <= known[0] and i1 >= known[-1]),
                "persistent": False,
                "reference": ref.source,
                "reference_origin": ref.origin,
                "reference_epoch": int(which[i0]),
                "reference_thumb": ref.thumb,
                "distance": round(float(np.nanmedian(d)), 4),
                "reference_signature": ref.code(),
                "samples": i1 - i0 + 1,
                "min_s": min_s,
                "test": "view",
            }
            events.append(make_event("view_changed", ctx, boundary_details(s, i0, i1), details))
        return events


def view_test(details: Mapping, threshold: float) -> Callable[[np.ndarray], bool] | None:
    """Per-frame test for refinement: luma image -> turned away from the event's reference?"""
    if "reference_signature" not in details:
        return None
    ref = decode_code(str(details["reference_signature"]))
    return lambda g: float(sig.distance(sig.decode(sig.signature(g)[None]), ref)[0]) >= threshold
