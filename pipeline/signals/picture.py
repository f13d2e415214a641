"""Picture signals: brightness, contrast, motion and frame difference of each sample.

The tests that turn them into black / frozen findings live here too (:class:`BlackTest`,
:class:`FrozenTest`), built from the black and frozen checks' settings (their measured
defaults are declared in :mod:`pipeline.checks.black` / :mod:`pipeline.checks.frozen`), so
the finders and the boundary refinement apply exactly the same tests with the site's values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import ClassVar

import cv2
import numpy as np

from pipeline.inputs.config import Limits, Rules
from pipeline.intervals import hysteresis
from pipeline.media.frames import FrameBatch
from pipeline.signals import AnalysisContext


@dataclass(frozen=True)
class BlackTest(Limits):
    """The black check's limits (settings ``black_*``): enter with the strict values, leave
    with the relaxed ``*_exit`` ones (hysteresis)."""

    prefix: ClassVar[str] = "black_"
    luma: float
    luma_exit: float
    uniform_std: float
    uniform_std_exit: float
    dark_std: float
    dark_std_exit: float


@dataclass(frozen=True)
class FrozenTest(Limits):
    """The frozen check's limits (settings ``frozen_*``, see :mod:`pipeline.checks.frozen`)."""

    prefix: ClassVar[str] = "frozen_"
    ratio: float
    ratio_exit: float
    min_diff: float
    repeat_diff: float
    repeat_grow: float
    repeat_hit: float
    still_loose: float


KEY_LOOKBACK = 4  # earlier keyframes compared (a re-encoded picture repeats at some lag)
KEY_LOOKBACK_S = 30.0
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
_overlay_cache: dict = {}
TRIM_BLOCKS = 58  # of 64: frame_diff ignores the six most changed blocks


def gray_of(frames: np.ndarray) -> np.ndarray:
    """BGR ``(N, H, W, 3)`` or ``(H, W, 3)`` -> luma, uint8."""
    if frames.ndim == 3:
        return cv2.cvtColor(frames, cv2.COLOR_BGR2GRAY)
    if not len(frames):
        return np.zeros((0, *frames.shape[1:3]), np.uint8)
    return np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames])


GRID = 8  # frame_diff's blocks per side


@cache
def _area_weights(n: int, cells: int = GRID) -> np.ndarray:
    """``(cells, n)`` weights of an area-average downscale of ``n`` pixels to ``cells``: the
    box average ``cv2.resize(..., interpolation=INTER_AREA)`` computes, as a matrix. OpenCV's
    fractional-scale area path (180 rows to 8) took 0.16 ms per image, a third of the
    picture analysers' time; the two matrix products take a fifth of that."""
    scale = n / cells
    edges = np.arange(cells + 1) * scale
    lo = np.maximum(np.arange(n)[None, :], edges[:-1, None])
    hi = np.minimum(np.arange(n)[None, :] + 1, edges[1:, None])
    return (np.clip(hi - lo, 0.0, None) / scale).astype(np.float32)


def block_means(image: np.ndarray) -> np.ndarray:
    """Mean of each of the ``GRID x GRID`` blocks of a 2-D image, float32 (INTER_AREA's)."""
    h, w = image.shape[:2]
    if h < GRID or w < GRID:  # an upscale: INTER_AREA's own rule
        return cv2.resize(image.astype(np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA)
    return _area_weights(h) @ image.astype(np.float32, copy=False) @ _area_weights(w).T


def change(a: np.ndarray, b: np.ndarray, motion_level: float | None = None) -> tuple[float, float]:
    """``(frame_diff, motion)`` of two luma images, from one difference image.

    frame_diff: mean |a - b| with the change of overall brightness removed (drift-proof),
    averaged over an 8x8 grid of blocks leaving out the most changed tenth, so a ticking
    on-screen clock or camera name the NVR burns into a frozen feed does not make it live.
    motion: share of pixels that changed by more than ``motion_level`` grey levels after a 3x3
    blur (sensor noise excluded; the setting of that name, None: its declared default).
    """
    if motion_level is None:
        motion_level = float(Rules().value("motion_level"))
    d, shift = _difference(a, b)
    moved = cv2.blur(cv2.subtract(d, (shift, 0.0, 0.0, 0.0)), (3, 3))
    motion = float(np.count_nonzero(cv2.absdiff(moved, (0.0, 0.0, 0.0, 0.0)) > motion_level))
    return _trimmed_mean(d, shift), motion / d.size


def _difference(
    a: np.ndarray, b: np.ndarray, blocks: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, float]:
    """``a - b`` as float32 and the change of overall brightness, taken robustly: the median
    block, so a small region that changed a lot (the clock) does not shift the whole picture.
    Block means are linear: those of ``a - b`` are those of ``a`` minus those of ``b``."""
    d = cv2.subtract(a, b, dtype=cv2.CV_32F)
    means = blocks[0] - blocks[1] if blocks is not None else block_means(d)
    return d, float(np.median(means))


def _trimmed_mean(d: np.ndarray, shift: float) -> float:
    """Mean ``|d - shift|`` over the 8x8 blocks, the most changed ones left out."""
    d = cv2.absdiff(d, (shift, 0.0, 0.0, 0.0))
    blocks = np.sort(block_means(d).ravel())
    return float(blocks[:TRIM_BLOCKS].mean())


def frame_difference(
    a: np.ndarray, b: np.ndarray, blocks: tuple[np.ndarray, np.ndarray] | None = None
) -> float:
    """``frame_diff`` of :func:`change`, without the motion it does not need (the keyframe
    repeat test compares each keyframe with up to four earlier pictures)."""
    return _trimmed_mean(*_difference(a, b, blocks))


def without_overlay(
    gray: np.ndarray, region: tuple[float, float, float, float] | None
) -> np.ndarray:
    """Luma with the burned-in clock box (``clock_region``) painted over by the mean of the
    rest of each picture: the NVR keeps drawing the clock over a black, frozen or turned
    camera. Computed once per batch and shared by the analysers."""
    if region is None or not len(gray):
        return gray
    key = (id(gray), region)
    hit = _overlay_cache.get(key)
    if hit is not None and hit[0] is gray:
        return hit[1]
    h, w = gray.shape[-2:]
    x, y, rw, rh = region
    pad_x, pad_y = 0.01 * w, 0.01 * h
    x0, y0 = max(0, int(x * w - pad_x)), max(0, int(y * h - pad_y))
    x1 = min(w, int(np.ceil((x + rw) * w + pad_x)))
    y1 = min(h, int(np.ceil((y + rh) * h + pad_y)))
    stack = gray[None] if gray.ndim == 2 else gray
    total = stack.reshape(len(stack), -1).sum(axis=1, dtype=np.int64)
    box = stack[:, y0:y1, x0:x1].reshape(len(stack), -1).sum(axis=1, dtype=np.int64)
    rest = max(1, h * w - (y1 - y0) * (x1 - x0))
    fill = np.round((total - box) / rest).astype(np.uint8)
    out = stack.copy()
    out[:, y0:y1, x0:x1] = fill[:, None, None]
    out = out[0] if gray.ndim == 2 else out
    while len(_overlay_cache) >= 2:  # the batch and its previous sample
        _overlay_cache.pop(next(iter(_overlay_cache)))
    _overlay_cache[key] = (gray, out)
    return out


def clock_region_of(ctx: AnalysisContext | None) -> tuple[float, float, float, float] | None:
    camera = getattr(ctx, "camera", None)
    return getattr(camera, "clock_region", None)


def noise_sigma(gray: np.ndarray) -> float:
    """Sensor-noise sigma of a luma image: Immerkaer's operator, averaged over the lower three
    quarters of its response so edges and texture do not count as noise."""
    # (on every pixel: subsampling would decorrelate the encoder-smoothed noise and inflate
    # the estimate against the temporal difference it is compared with)
    r = cv2.filter2D(gray, cv2.CV_16S, _NOISE_KERNEL)[1:-1, 1:-1]
    if not r.size:
        return float("nan")
    # |r| saturated at 255 (only edges get there) and its histogram, all in OpenCV
    mag = cv2.convertScaleAbs(r)
    counts = cv2.calcHist([mag], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    cum = np.cumsum(counts)
    cut = int(np.searchsorted(cum, 0.75 * cum[-1]))  # the 75th percentile of |r|
    values = np.arange(cut + 1)
    lower = counts[: cut + 1]
    # E|X| over the lower 75 % of a half-normal is 0.5146 sigma; the kernel's gain is 6
    return float((values * lower).sum() / max(1, lower.sum()) / (0.5146 * 6.0))


def is_black(
    brightness: np.ndarray, contrast: np.ndarray, test: BlackTest | None = None
) -> np.ndarray:
    """Black or uniform samples, with hysteresis over the sequence."""
    b = test or BlackTest.of()
    enter = ((brightness <= b.luma) & (contrast <= b.dark_std)) | (contrast <= b.uniform_std)
    stay = ((brightness <= b.luma_exit) & (contrast <= b.dark_std_exit)) | (
        contrast <= b.uniform_std_exit
    )
    return hysteresis(enter, stay)


def black_picture(gray: np.ndarray, test: BlackTest | None = None) -> bool:
    """The per-frame form of :func:`is_black`'s relaxed test (boundary refinement)."""
    b = test or BlackTest.of()
    mean, std = float(gray.mean()), float(gray.std())
    return std <= b.uniform_std_exit or (mean <= b.luma_exit and std <= b.dark_std_exit)


def still_score(
    frame_diff: np.ndarray, noise: np.ndarray, test: FrozenTest | None = None
) -> np.ndarray:
    """Change to the previous sample in units of the noise floor (0 for identical pictures)."""
    f = test or FrozenTest.of()
    d = np.asarray(frame_diff, dtype=np.float64)
    n = np.asarray(noise, dtype=np.float64)
    n = np.where(np.isfinite(n), np.maximum(n, 0.1), np.inf)  # no noise estimate: diff alone
    return np.where(d <= f.min_diff, 0.0, d / n)


def is_still(
    frame_diff: np.ndarray, noise: np.ndarray, test: FrozenTest | None = None
) -> np.ndarray:
    """Samples identical to the previous one below the noise floor (NaN keeps the state)."""
    f = test or FrozenTest.of()
    score = still_score(frame_diff, noise, f)
    return hysteresis(score <= f.ratio, score <= f.ratio_exit, np.isnan(score))


def keyframe_repeats(
    gray: np.ndarray,
    t_s: np.ndarray,
    keyframe: np.ndarray | None,
    prev: np.ndarray | None,
    step_s: float,
    previous_diff: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per keyframe sample, how closely it repeats an earlier picture, and how far back that
    picture is (seconds); NaN elsewhere.

    The smallest ``frame_diff`` to the sample just before it (``prev`` for the first, one
    ``step_s`` earlier) and to the previous ``KEY_LOOKBACK`` keyframes up to
    ``KEY_LOOKBACK_S`` back (a picture re-encoded at another quantiser repeats once the
    quantiser comes back). Small enough, the feed showed the same picture again
    over that lag; above it the sensor's noise was new (the frozen check's
    ``frozen_repeat_diff`` decides, in the finder). ``previous_diff``: the ``frame_diff`` of
    each sample to the one before it, when the caller has it (not computed again).
    """
    n = len(gray)
    diff = np.full(n, np.nan, np.float32)
    lag = np.full(n, np.nan, np.float32)
    if keyframe is None or len(keyframe) != n:
        return diff, lag
    blocks = cache(lambda k: block_means(gray[k]))  # each picture's, once
    keys: list[int] = []
    for i in range(n):
        if not keyframe[i]:
            continue
        before = gray[i - 1] if i > 0 else prev
        tried: list[tuple[float, float]] = []
        if before is not None and before.shape == gray[i].shape:
            back = float(t_s[i] - t_s[i - 1]) if i > 0 else step_s
            known = previous_diff[i] if previous_diff is not None else np.nan
            tried.append(
                (float(known) if np.isfinite(known) else frame_difference(gray[i], before), back)
            )
        tried += [
            (frame_difference(gray[i], gray[k], (blocks(i), blocks(k))), float(t_s[i] - t_s[k]))
            for k in keys[-KEY_LOOKBACK:]
            if t_s[i] - t_s[k] <= KEY_LOOKBACK_S and k != i - 1
        ]
        if tried:
            diff[i], lag[i] = min(tried)
        keys.append(i)
    return diff, lag


class PictureSignals:
    """brightness, contrast (luma mean / std), motion and frame_diff to the previous sample,
    the picture's sensor-noise level (``noise``) that frame_diff is judged against, and
    ``key_repeat`` (:func:`keyframe_repeats`) that tells a stopped feed from a still room."""

    name = "picture"
    columns = (
        "brightness",
        "contrast",
        "motion",
        "frame_diff",
        "noise",
        "key_repeat",
        "key_repeat_s",
    )

    def __call__(self, batch: FrameBatch, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        gray = without_overlay(batch.gray, clock_region_of(ctx))
        n = len(batch)
        brightness = np.empty(n, np.float32)
        contrast = np.empty(n, np.float32)
        motion = np.full(n, np.nan, np.float32)
        diff = np.full(n, np.nan, np.float32)
        noise = np.empty(n, np.float32)
        level = float(ctx.rules.value("motion_level"))
        prev = gray_of(batch.prev) if batch.prev is not None else None
        if prev is not None:
            prev = without_overlay(prev, clock_region_of(ctx))
        if prev is not None and prev.shape != gray.shape[1:]:
            prev = None
        for i in range(n):
            g = gray[i]
            mean, std = cv2.meanStdDev(g)
            brightness[i] = mean[0, 0]
            contrast[i] = std[0, 0]
            noise[i] = noise_sigma(g)
            if prev is not None:
                diff[i], motion[i] = change(g, prev, level)
            prev = g
        before = gray_of(batch.prev) if batch.prev is not None else None
        if before is not None:
            before = without_overlay(before, clock_region_of(ctx))
        repeat, lag = keyframe_repeats(
            gray, batch.t_s, batch.keyframe, before, float(ctx.analysis.sample_every_s), diff
        )
        return {
            "brightness": brightness,
            "contrast": contrast,
            "motion": motion,
            "frame_diff": diff,
            "noise": noise,
            "key_repeat": repeat,
            "key_repeat_s": lag,
        }
