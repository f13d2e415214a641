"""Runs of a boolean signal over sample times, and spans: the one place findings are cut and
time spans merged.

A sample at time ``t[i]`` stands for ``[t[i], t[i+1])``. Short flips inside a run (a brief
miss or occlusion) are bridged when shorter than ``bridge_s``; runs shorter than ``min_s`` are
dropped. Samples further apart than ``max_step_s`` (a recording gap) break a run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

Span = tuple[Any, Any]  # (start, end): datetimes or seconds


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


def hysteresis(
    enter: np.ndarray, stay: np.ndarray, unknown: np.ndarray | None = None
) -> np.ndarray:
    """Per sample: in the state once ``enter`` holds, until ``stay`` no longer does; an
    ``unknown`` sample keeps the state it finds (two thresholds, so noise near one threshold
    does not flicker a finding on and off)."""
    out = np.zeros(len(enter), dtype=bool)
    on = False
    for i in range(len(enter)):
        if unknown is not None and unknown[i]:
            out[i] = on
            continue
        on = bool(enter[i] or (on and stay[i]))
        out[i] = on
    return out


def union(spans: Iterable[Span]) -> list[Span]:
    """Sorted, non-overlapping spans covering the same time as ``spans``."""
    merged: list[list] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def uncovered(window: Span, covered: Iterable[Span]) -> list[Span]:
    """Parts of ``window`` that no span of ``covered`` covers."""
    out: list[Span] = []
    cursor = window[0]
    for a, b in union(covered):
        if b <= cursor or a >= window[1]:
            continue
        if a > cursor:
            out.append((cursor, min(a, window[1])))
        cursor = max(cursor, b)
    if cursor < window[1]:
        out.append((cursor, window[1]))
    return out


def subtract(spans: Iterable[Span], holes: Iterable[Span]) -> list[Span]:
    """The parts of each span outside every hole."""
    holes = union(holes)
    return [piece for span in spans for piece in uncovered(span, holes)]


def squeeze(t: np.ndarray, holes: Iterable[Span]) -> np.ndarray:
    """Times with the ``holes`` cut out of the time axis (each later time moves earlier by the
    hole time before it): time nobody can judge then counts neither for nor against a run."""
    t = np.asarray(t, dtype=np.float64)
    out = t.copy()
    for a, b in union(holes):
        out -= np.clip(t - a, 0.0, b - a)
    return out


def unsqueeze(x: float, holes: Iterable[Span], *, start: bool) -> float:
    """The real time of squeezed time ``x``; where ``x`` is a hole's edge, a run's ``start``
    lies after the hole and its end before it (holes at a run's edges stay outside it)."""
    shift = 0.0
    for a, b in union(holes):
        edge = a - shift  # the hole's place on the squeezed axis
        if x > edge + 1e-9 or (start and x >= edge - 1e-9):
            shift += b - a
        else:
            break
    return x + shift


def overlap(span: Span, spans: Iterable[Span]) -> float:
    """Total time of ``spans`` inside ``span`` (seconds)."""
    return float(sum(max(0.0, min(b, span[1]) - max(a, span[0])) for a, b in union(spans)))
