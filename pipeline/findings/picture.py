"""Black and frozen pictures: runs of per-sample tests over a session's timeline.

Each run becomes an event whose start and end are the midpoints between the last sample
outside the state and the first inside (the best estimate from sparse samples). ``details``
keeps those brackets (file, offsets) so :func:`pipeline.refine.refine_events` can decode just
the GOPs around each boundary and place it within one frame step. Runs up to one sample step
shorter than the site's minimum are kept as candidates (``details.min_s``): sparse samples
under-measure a run by up to one step; refinement then drops those that stay too short.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.findings import SessionContext
from pipeline.inputs.config import Rules
from pipeline.intervals import runs
from pipeline.records import Event
from pipeline.signals.picture import BlackTest, FrozenTest, is_black, is_still, still_score


@dataclass(frozen=True)
class SessionSamples:
    """One session's timeline as numpy arrays (rows sorted by time)."""

    t: np.ndarray  # epoch seconds
    files: np.ndarray  # source file name per sample (object)
    t_file: np.ndarray  # offset in that file
    step: float  # nominal sampling step

    @classmethod
    def of(cls, timeline: pa.Table, step: float) -> SessionSamples:
        t = timeline["t"].cast(pa.int64()).to_numpy(zero_copy_only=False) / 1000.0
        files = np.asarray(timeline["source_file"].to_pylist(), dtype=object)
        tf = column(timeline, "t_file_s", np.float64)
        diffs = np.diff(t)
        if len(diffs) and np.any(diffs > 0):
            step = float(np.median(diffs[diffs > 0]))
        return cls(t, files, tf, step)

    def __len__(self) -> int:
        return len(self.t)


def column(timeline: pa.Table, name: str, dtype=np.float64) -> np.ndarray:
    """A column as numpy with nulls as NaN (float) or 0 (integers)."""
    if name not in timeline.column_names:
        return np.full(timeline.num_rows, np.nan, dtype=np.float64)
    col = timeline[name]
    if np.issubdtype(np.dtype(dtype), np.floating):
        return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
    return np.asarray(col.fill_null(0).to_numpy(zero_copy_only=False), dtype=dtype)


def black_samples(timeline: pa.Table, rules: Rules) -> np.ndarray:
    """The timeline's black samples by the site's black test (unknown luma: not black)."""
    luma = np.nan_to_num(column(timeline, "brightness"), nan=255.0)
    std = np.nan_to_num(column(timeline, "contrast"), nan=255.0)
    return is_black(luma, std, BlackTest.of(rules))


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(round(float(seconds), 3), tz=UTC)


def state_runs(s: SessionSamples, mask: np.ndarray, *, min_s: float) -> list[tuple[int, int]]:
    """Inclusive sample index ranges ``(i0, i1)`` where ``mask`` holds for about ``min_s``+.

    A single sample out of the state is bridged; a recording gap (samples further apart than
    three steps) ends a run.
    """
    if not len(s) or not mask.any():
        return []
    spans = runs(
        s.t,
        mask,
        min_s=max(0.0, min_s - s.step),
        bridge_s=1.5 * s.step,
        max_step_s=3.0 * s.step,
    )
    out = []
    for a, b in spans:
        i0 = int(np.searchsorted(s.t, a - 1e-6))
        i1 = int(np.searchsorted(s.t, b - 1e-6)) - 1
        out.append((i0, max(i0, i1)))
    return out


@dataclass(frozen=True)
class Bounds:
    """Where a finding starts and ends (epoch seconds, the best estimate from the samples) and
    the file offsets and sample brackets that :mod:`pipeline.refine` needs (``details``)."""

    start: float
    end: float
    details: dict[str, Any]


def boundary_details(s: SessionSamples, i0: int, i1: int) -> Bounds:
    """Estimated start/end (midpoints) and the sample brackets refinement needs."""
    n = len(s)
    start_lo = i0 - 1 if i0 > 0 and s.t[i0] - s.t[i0 - 1] <= 3 * s.step else None
    end_hi = i1 + 1 if i1 + 1 < n and s.t[i1 + 1] - s.t[i1] <= 3 * s.step else None
    start = (s.t[start_lo] + s.t[i0]) / 2 if start_lo is not None else s.t[i0]
    end = (s.t[i1] + s.t[end_hi]) / 2 if end_hi is not None else s.t[i1] + s.step / 2
    d: dict[str, Any] = {
        "start_file": s.files[i0],
        "start_t_file_s": round(float(s.t_file[i0] - (s.t[i0] - start)), 3),
        "end_file": s.files[i1],
        "end_t_file_s": round(float(s.t_file[i1] + (end - s.t[i1])), 3),
        "sample_step_s": round(s.step, 3),
    }
    if start_lo is not None and s.files[start_lo] == s.files[i0]:
        d["start_bracket_s"] = [float(s.t_file[start_lo]), float(s.t_file[i0])]
    if end_hi is not None and s.files[end_hi] == s.files[i1]:
        d["end_bracket_s"] = [float(s.t_file[i1]), float(s.t_file[end_hi])]
    return Bounds(float(start), float(end), d)


def make_event(
    kind: str,
    ctx: SessionContext,
    bounds: Bounds,
    details: dict[str, Any],
    confidence: float = 0.9,
) -> Event:
    session = ctx.session
    start = max(utc(bounds.start), session.scheduled_start)
    end = min(utc(bounds.end), session.scheduled_end)
    return Event(
        kind=kind,
        camera_id=session.camera_id,
        session_id=session.session_id,
        start=start,
        end=max(start, end),
        confidence=confidence,
        details={**details, **bounds.details},
        source_file=bounds.details["start_file"],
    )


class BlackScreenFinder:
    """Dark or uniform picture (covered lens, video loss) for ``rules.min_black_s`` or more."""

    name = "black_screen"

    def __call__(self, timeline: pa.Table, ctx: SessionContext) -> list[Event]:
        s = SessionSamples.of(timeline, ctx.site.analysis.sample_every_s)
        if not len(s):
            return []
        luma = column(timeline, "brightness")
        std = column(timeline, "contrast")
        mask = black_samples(timeline, ctx.site.rules) & ~np.isnan(luma)
        min_s = ctx.site.rules.min_black_s
        events = []
        for i0, i1 in state_runs(s, mask, min_s=min_s):
            sl = slice(i0, i1 + 1)
            details = {
                "mean_luma": round(float(np.nanmean(luma[sl])), 2),
                "max_luma": round(float(np.nanmax(luma[sl])), 2),
                "mean_contrast": round(float(np.nanmean(std[sl])), 2),
                "samples": i1 - i0 + 1,
                "min_s": min_s,
                "test": "black",
            }
            events.append(make_event("black_screen", ctx, boundary_details(s, i0, i1), details))
        return events


def live_level(repeat: np.ndarray, f: FrozenTest) -> float:
    """The camera's own live keyframe-to-keyframe difference in this session: the median of
    its keyframes with new noise (a settling rate control's few keyframes do not move it;
    people moving raise it, which only widens the allowance next to a verified repeat)."""
    new = repeat[np.isfinite(repeat) & (repeat > f.repeat_diff)]
    return float(np.median(new)) if len(new) >= 3 else 0.0  # unknown: no allowance


def _apart(
    k: int, still: np.ndarray, repeat: np.ndarray, t: np.ndarray, step: float, f: FrozenTest
) -> bool:
    """Keyframe ``k`` differs clearly less than the other keyframes of its still stretch (a
    quiet live room's keyframes all differ alike; one alone cannot be judged so)."""
    lo = hi = k
    while lo > 0 and still[lo] and t[lo] - t[lo - 1] <= 3 * step:
        lo -= 1
    while hi + 1 < len(still) and still[hi + 1] and t[hi + 1] - t[hi] <= 3 * step:
        hi += 1
    others = np.delete(repeat[lo : hi + 1], k - lo)
    others = others[np.isfinite(others) & (others > f.repeat_diff)]
    return len(others) < 2 or repeat[k] <= f.repeat_grow * float(np.median(others))


def verified_frozen(
    still: np.ndarray,
    score: np.ndarray,
    repeat: np.ndarray,
    lag: np.ndarray,
    t: np.ndarray,
    step: float,
    f: FrozenTest | None = None,
) -> np.ndarray:
    """Samples where the feed verifiably repeated its picture (``f``: the frozen check's
    limits, None: their defaults).

    ``still`` is the cheap per-sample test (no change above the noise floor), which a quiet
    live room passes as well as a stopped feed. ``repeat`` (``key_repeat``) is known on
    keyframes only: at or below ``repeat_diff`` the keyframe repeated the picture shown
    ``lag`` seconds before, which a live sensor never does (with sparse samples, within
    ``repeat_hit`` of the live level also counts, unless the keyframes of its still stretch
    differ alike: a quiet live room among busy ones); the samples over that lag are frozen,
    still or not (a picture re-quantised at every keyframe changes more than the noise).
    From there a stretch grows over still samples without keyframe evidence, and over
    keyframes that differ clearly less than the camera's live level (``repeat_grow`` of
    :func:`live_level`) and about as much as the noise (``score``, the still test's ratio, up
    to ``still_loose``): a rate control settling on the repeated picture. It stops at a
    keyframe with new noise. A still stretch without a repeating keyframe is a quiet room,
    never frozen.
    """
    f = f or FrozenTest.of()
    n = len(still)
    level = live_level(repeat, f)
    hit = repeat <= f.repeat_diff
    for k in np.flatnonzero(repeat <= f.repeat_hit * level):  # sparse samples: a loose repeat
        hit[k] |= bool(score[k] <= f.still_loose) and _apart(k, still, repeat, t, step, f)
    grow = max(f.repeat_diff, f.repeat_grow * level)
    mark = np.zeros(n, dtype=bool)
    for k in np.flatnonzero(hit):  # the keyframe and the picture it repeats
        back = lag[k] if np.isfinite(lag[k]) else step
        first = int(np.searchsorted(t, t[k] - back - 1e-6))
        mark[first : k + 1] = True
    # link[k]: how sample k relates to sample k-1 (see _grow); a recording gap changes all
    known = np.isfinite(repeat)
    similar = known & (repeat <= grow) & (score <= f.still_loose)
    link = np.where(known, np.where(similar, SAME, NEW), np.where(still, STILL, CHANGE))
    link[1:][np.diff(t) > 3 * step] = CHANGE
    if n:
        link[0] = CHANGE
    out = mark.copy()
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mark.astype(np.int8), [0]))))
    for first, last in zip(edges[::2], edges[1::2] - 1, strict=True):
        _grow(out, int(last), +1, link, known, t)
        _grow(out, int(first), -1, link, known, t)
    return out


SAME, STILL, NEW, CHANGE = range(4)


def _grow(
    mark: np.ndarray, edge: int, way: int, link: np.ndarray, known: np.ndarray, t: np.ndarray
) -> None:
    """Grow a verified stretch from ``edge`` forward (``way`` +1) or back (-1), in place.

    ``link[k]`` says how sample k relates to sample k-1. Samples without keyframe evidence
    (P-frames of a still scene copy their keyframe, live or frozen) are passed while the
    picture stays within the noise (STILL) and join when a keyframe like the repeated picture
    follows (SAME), the picture changes (CHANGE) or the samples end. A keyframe with new noise
    (NEW) leaves the boundary among the P-frames next to it, which copy their keyframe
    imperfectly: after the stretch, half of those passed join; before it, the keyframe and its
    copies join (they show the picture), and half of the P-frames back to the keyframe before
    (the midpoint, as for any boundary between sparse samples).
    """
    n = len(mark)
    gap: list[int] = []
    last = edge
    k = edge
    while True:
        if way > 0:
            k += 1
            if k >= n or link[k] == CHANGE:
                break
            rel = link[k]
        else:
            rel = link[k]  # how k relates to k - 1: does k - 1 show k's picture?
            if k == 0 or rel == CHANGE:
                break
            if rel == NEW:  # k starts the picture; the P-frames before it are uncertain
                mark[gap] = True
                j = k - 1
                while j > 0 and not known[j] and link[j] != CHANGE:
                    j -= 1
                mid = (t[j] + t[k]) / 2
                mark[[i for i in range(j + 1, k) if t[i] >= mid]] = True
                return
            k -= 1
        if rel == SAME:
            mark[gap] = True
            mark[k] = True
            gap, last = [], k
        elif rel == STILL:
            gap.append(k)
        else:  # NEW after the stretch: the end is among the samples passed
            mid = (t[last] + t[k]) / 2
            gap = [g for g in gap if t[g] <= mid]
            break
    mark[gap] = True


class FrozenVideoFinder:
    """The same picture repeated for ``min_frozen_s``: still samples (no change above the
    sensor-noise floor) verified by keyframes that repeat the picture (:func:`verified_frozen`).

    ``frame_diff`` of sample i compares it with sample i-1, so a frozen picture spans the
    sample before the first still one. Black stretches are the black finder's, not frozen.
    A timeline without ``key_repeat`` (evidence from before it existed) keeps the still test.
    """

    name = "frozen_video"

    def __call__(self, timeline: pa.Table, ctx: SessionContext) -> list[Event]:
        s = SessionSamples.of(timeline, ctx.site.analysis.sample_every_s)
        if len(s) < 2:
            return []
        diff = column(timeline, "frame_diff")
        luma = column(timeline, "brightness")
        repeat = column(timeline, "key_repeat")
        lag = column(timeline, "key_repeat_s")
        f = FrozenTest.of(ctx.site.rules)
        black = black_samples(timeline, ctx.site.rules)
        # a new file (or chunk without its predecessor) has no difference: unknown, not live
        still = is_still(diff, column(timeline, "noise"), f) & ~black
        if "key_repeat" in timeline.column_names:
            score = still_score(diff, column(timeline, "noise"), f)
            frozen = verified_frozen(still, score, repeat, lag, s.t, s.step, f) & ~black
        else:  # the picture that froze is already shown by the sample before the first still
            frozen = still.copy()
            frozen[:-1] |= still[1:] & ~black[:-1] & (np.diff(s.t) <= 3 * s.step)
        min_s = ctx.site.rules.min_frozen_s
        events = []
        for i0, i1 in state_runs(s, frozen, min_s=min_s):
            sl = slice(i0 + 1, i1 + 1)
            d = diff[sl]
            if not np.isfinite(d).any():
                continue
            keys = repeat[i0 : i1 + 1]
            details = {
                "max_frame_diff": round(float(np.nanmax(d)), 4),
                "mean_frame_diff": round(float(np.nanmean(d)), 4),
                "mean_luma": round(float(np.nanmean(luma[i0 : i1 + 1])), 2),
                "samples": i1 - i0 + 1,
                "repeated_keyframes": int(np.sum(keys <= f.repeat_diff)),
                "max_key_repeat": round(float(np.nanmax(keys)), 4)
                if np.isfinite(keys).any()
                else None,
                "min_s": min_s,
                "test": "frozen",  # the refinement's per-frame test
                "verified_by": "keyframes repeat the picture",
            }
            events.append(make_event("frozen_video", ctx, boundary_details(s, i0, i1), details))
        return events
