"""Picture signals: brightness, contrast, motion and frame difference of each sample.

The thresholds that turn them into black / frozen findings live here too, next to the
measurements, so the finders and the boundary refinement apply exactly the same tests.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.intervals import hysteresis
from pipeline.media.frames import FrameBatch
from pipeline.signals import AnalysisContext

# Black: a uniform picture (video loss screens, a covered lens), or a dark one without the
# contrast of a room. Entering needs the strict values; leaving needs the relaxed ones
# (hysteresis), so noise cannot split a run. Dark alone is not black: a room at night (real
# plate at a fifth of its light, sensor noise 4: mean luma 18, std 9) is live and watchable;
# a covered lens or loss screen stays under std 3.5 (tests/test_still_rooms.py).
BLACK_LUMA = 24.0
BLACK_LUMA_EXIT = 32.0
UNIFORM_STD = 5.0
UNIFORM_STD_EXIT = 8.0
DARK_STD = 7.0  # a dark picture is black only with less contrast than this
DARK_STD_EXIT = 8.5
# Frozen: the change to the previous sample against the picture's own sensor noise. A live
# camera's temporal noise is as strong as its spatial noise (mean |diff| ~ 1.13 sigma for
# white noise); a frozen picture, even re-encoded at every keyframe, changes far less than
# the noise frozen into it. Below FROZEN_DIFF grey levels the picture is identical anyway.
FROZEN_RATIO = 0.7
FROZEN_RATIO_EXIT = 0.9
FROZEN_DIFF = 0.15
# Frozen, verified: a keyframe that repeats the picture shown before it. A live sensor's
# noise is new in every keyframe even when nothing moves (P-frames of a still scene copy their
# keyframe's noise, so only keyframes count); a stopped feed encodes the same picture again.
# Measured on plates from the real TUD clips (benchmarks/bench_still.py, analysis width 320,
# the clock box masked): a live still room's keyframes differ by 0.35 (1080p, sigma 0.5,
# CRF 18) to 2.6 grey levels (sigma 5), a repeated picture by 0.00-0.06 (CRF 18-32, H.264
# and H.265, x264 nr on or off); re-encoded under constant bitrate its first keyframes
# differ by up to 0.3 while the rate control settles, then repeat. 0.2 sits below the live
# minimum with a 1.75x margin. The correlation of high-frequency residuals was measured too
# and does not separate them: on a real plate the room's own edges dominate the residual
# (0.97-1.00 live and frozen alike).
REPEAT_DIFF = 0.2
# Under CRF or constant bitrate the rate control needs a few keyframes to settle on a repeated
# picture (0.3-1.0 grey levels between them, 0.45-0.8 of the live level, measured in the same
# matrix; a live room's keyframes stay within +-20 % of their median): next to a verified
# repeat, keyframes under this share of the camera's own live level are the same picture
# re-quantised.
REPEAT_GROW = 0.8
# Sparse samples may see no settled keyframe at all (two samples in a 15 s freeze): a keyframe
# within this share of the live level also repeats. In a live still room every keyframe sits
# at the live level, so this never fires there; it can where people moving raise the level.
REPEAT_HIT = 0.3
# ... and such a settling keyframe still changes about as much as the noise, not like people
# moving (the still test's ratio; a live camera with people scores 1.5 and more)
STILL_LOOSE = 1.2
KEY_LOOKBACK = 4  # earlier keyframes compared (a re-encoded picture repeats at some lag)
KEY_LOOKBACK_S = 30.0
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
_overlay_cache: dict = {}
TRIM_BLOCKS = 58  # of 64: frame_diff ignores the six most changed blocks
# Motion: fraction of pixels that changed by more than this (after a small blur).
MOTION_LEVEL = 20.0


def gray_of(frames: np.ndarray) -> np.ndarray:
    """BGR ``(N, H, W, 3)`` or ``(H, W, 3)`` -> luma, uint8."""
    if frames.ndim == 3:
        return cv2.cvtColor(frames, cv2.COLOR_BGR2GRAY)
    if not len(frames):
        return np.zeros((0, *frames.shape[1:3]), np.uint8)
    return np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames])


def change(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """``(frame_diff, motion)`` of two luma images, from one difference image.

    frame_diff: mean |a - b| with the change of overall brightness removed (drift-proof),
    averaged over an 8x8 grid of blocks leaving out the most changed tenth, so a ticking
    on-screen clock or camera name the NVR burns into a frozen feed does not make it live.
    motion: share of pixels that changed by more than ``MOTION_LEVEL`` after a 3x3 blur
    (sensor noise excluded).
    """
    d, shift = _difference(a, b)
    moved = cv2.blur(cv2.subtract(d, (shift, 0.0, 0.0, 0.0)), (3, 3))
    motion = float(np.count_nonzero(cv2.absdiff(moved, (0.0, 0.0, 0.0, 0.0)) > MOTION_LEVEL))
    return _trimmed_mean(d, shift), motion / d.size


def _difference(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """``a - b`` as float32 and the change of overall brightness, taken robustly: the median
    block, so a small region that changed a lot (the clock) does not shift the whole picture."""
    d = cv2.subtract(a, b, dtype=cv2.CV_32F)
    return d, float(np.median(cv2.resize(d, (8, 8), interpolation=cv2.INTER_AREA)))


def _trimmed_mean(d: np.ndarray, shift: float) -> float:
    """Mean ``|d - shift|`` over the 8x8 blocks, the most changed ones left out."""
    d = cv2.absdiff(d, (shift, 0.0, 0.0, 0.0))
    blocks = np.sort(cv2.resize(d, (8, 8), interpolation=cv2.INTER_AREA).ravel())
    return float(blocks[:TRIM_BLOCKS].mean())


def frame_difference(a: np.ndarray, b: np.ndarray) -> float:
    """``frame_diff`` of :func:`change`, without the motion it does not need (the keyframe
    repeat test compares each keyframe with up to four earlier pictures)."""
    return _trimmed_mean(*_difference(a, b))


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


def is_black(brightness: np.ndarray, contrast: np.ndarray) -> np.ndarray:
    """Black or uniform samples, with hysteresis over the sequence."""
    enter = ((brightness <= BLACK_LUMA) & (contrast <= DARK_STD)) | (contrast <= UNIFORM_STD)
    stay = ((brightness <= BLACK_LUMA_EXIT) & (contrast <= DARK_STD_EXIT)) | (
        contrast <= UNIFORM_STD_EXIT
    )
    return hysteresis(enter, stay)


def black_picture(gray: np.ndarray) -> bool:
    """The per-frame form of :func:`is_black`'s relaxed test (boundary refinement)."""
    mean, std = float(gray.mean()), float(gray.std())
    return std <= UNIFORM_STD_EXIT or (mean <= BLACK_LUMA_EXIT and std <= DARK_STD_EXIT)


def still_score(frame_diff: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Change to the previous sample in units of the noise floor (0 for identical pictures)."""
    d = np.asarray(frame_diff, dtype=np.float64)
    n = np.asarray(noise, dtype=np.float64)
    n = np.where(np.isfinite(n), np.maximum(n, 0.1), np.inf)  # no noise estimate: diff alone
    return np.where(d <= FROZEN_DIFF, 0.0, d / n)


def is_still(frame_diff: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Samples identical to the previous one below the noise floor (NaN keeps the state)."""
    score = still_score(frame_diff, noise)
    return hysteresis(score <= FROZEN_RATIO, score <= FROZEN_RATIO_EXIT, np.isnan(score))


def keyframe_repeats(
    gray: np.ndarray,
    t_s: np.ndarray,
    keyframe: np.ndarray | None,
    prev: np.ndarray | None,
    step_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Per keyframe sample, how closely it repeats an earlier picture, and how far back that
    picture is (seconds); NaN elsewhere.

    The smallest ``frame_diff`` to the sample just before it (``prev`` for the first, one
    ``step_s`` earlier) and to the previous ``KEY_LOOKBACK`` keyframes up to
    ``KEY_LOOKBACK_S`` back (a picture re-encoded at another quantiser repeats once the
    quantiser comes back). At or below ``REPEAT_DIFF`` the feed showed the same picture again
    over that lag; above it the sensor's noise was new.
    """
    n = len(gray)
    diff = np.full(n, np.nan, np.float32)
    lag = np.full(n, np.nan, np.float32)
    if keyframe is None or len(keyframe) != n:
        return diff, lag
    keys: list[int] = []
    for i in range(n):
        if not keyframe[i]:
            continue
        before = gray[i - 1] if i > 0 else prev
        partners: list[tuple[np.ndarray, float]] = []
        if before is not None and before.shape == gray[i].shape:
            partners.append((before, float(t_s[i] - t_s[i - 1]) if i > 0 else step_s))
        partners += [
            (gray[k], float(t_s[i] - t_s[k]))
            for k in keys[-KEY_LOOKBACK:]
            if t_s[i] - t_s[k] <= KEY_LOOKBACK_S and k != i - 1
        ]
        if partners:
            d, back = min((frame_difference(gray[i], g), s) for g, s in partners)
            diff[i], lag[i] = d, back
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
                diff[i], motion[i] = change(g, prev)
            prev = g
        before = gray_of(batch.prev) if batch.prev is not None else None
        if before is not None:
            before = without_overlay(before, clock_region_of(ctx))
        repeat, lag = keyframe_repeats(
            gray, batch.t_s, batch.keyframe, before, float(ctx.analysis.sample_every_s)
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
