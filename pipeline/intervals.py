"""Runs of a boolean signal over sample times, with hysteresis: the one place findings are cut.

A sample at time ``t[i]`` stands for ``[t[i], t[i+1])``. Short flips inside a run (a brief
miss or occlusion) are bridged when shorter than ``bridge_s``; runs shorter than ``min_s`` are
dropped. Samples further apart than ``max_step_s`` (a recording gap) break a run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def runs(
    t: Sequence[float] | np.ndarray,
    mask: Sequence[bool] | np.ndarray,
    *,
    min_s: float = 0.0,
    bridge_s: float = 0.0,
    max_step_s: float | None = None,
    end_t: float | None = None,
) -> list[tuple[float, float]]:
    """``(start, end)`` of each run where ``mask`` holds, in the units of ``t``.

    ``end_t`` is where the last sample's span ends (default: the median sample step after it).
    """
    t = np.asarray(t, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if t.shape != mask.shape:
        raise ValueError("t and mask must have the same length")
    if len(t) == 0:
        return []
    steps = np.diff(t)
    step = float(np.median(steps)) if len(steps) else 1.0
    ends = np.append(t[1:], end_t if end_t is not None else t[-1] + step)
    if max_step_s is not None:
        # across a gap in the samples, a sample stands only for one ordinary step
        ends = np.where(ends - t > max_step_s, t + step, ends)
    raw: list[list[float]] = []
    for start, end, on in zip(t, ends, mask, strict=True):
        if not on:
            continue
        if raw and start - raw[-1][1] <= 1e-9:
            raw[-1][1] = end
        else:
            raw.append([float(start), float(end)])
    merged: list[list[float]] = []
    for start, end in raw:
        if merged and start - merged[-1][1] < bridge_s:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    return [(float(a), float(b)) for a, b in merged if b - a >= min_s]


def hysteresis(values: np.ndarray, high: float, low: float) -> np.ndarray:
    """True once ``values`` rises to ``high``; stays true until it falls below ``low``."""
    values = np.asarray(values, dtype=np.float64)
    out = np.zeros(len(values), dtype=bool)
    on = False
    for i, v in enumerate(values):
        if np.isnan(v):
            out[i] = on
            continue
        if not on and v >= high:
            on = True
        elif on and v < low:
            on = False
        out[i] = on
    return out
