"""The view a camera shows: a structure signature of each sample, robust to people and light.

The signature is a grid of gradient-orientation histograms (16 x 12 cells, 4 orientations) of
the log-luma picture. Log luma makes gradients ratios of neighbouring pixels, so a change of
gain or a slow daylight gradient across the room leaves them alone; orientation histograms
describe where the room's edges are (desks, walls, windows) rather than how bright they are.
Two views are compared cell by cell (cosine of the histograms) over the reference's textured
cells, and the median cell decides: people cover a minority of cells, a camera turned, zoomed
or shifted even a few per cent moves the edges of most of them. Measured on the real TUD
clips (crowds, gain 0.6-1.3, side light, JPEG and noise) the same view stays below 0.04 and
a 5 % shift or a 1.1x zoom is above 0.07 (tests/test_view_real.py).

Stored per sample as 768 bytes (``view_signature``): each bin relative to the picture's median
cell energy, square-root coded in a byte. A reference image goes through the same function.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.media.frames import FrameBatch
from pipeline.signals import AnalysisContext
from pipeline.signals.picture import clock_region_of, without_overlay

GRID = (16, 12)  # cells across, down
BINS = 4  # gradient orientations (0-180 degrees)
SIZE = (96, 72)  # the picture is reduced to this before gradients (noise averages out)
SIGNATURE_BYTES = GRID[0] * GRID[1] * BINS
_LOG_OFFSET = 16.0  # log(luma + offset): dark sensor noise does not become structure
_CODE = 64.0  # byte = CODE * sqrt(bin / median cell energy)


def signature(gray: np.ndarray) -> np.ndarray:
    """Signature of one luma image (any size) as ``SIGNATURE_BYTES`` uint8."""
    small = cv2.resize(gray, SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
    log = np.log(small + _LOG_OFFSET)
    gx = cv2.Sobel(log, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(log, cv2.CV_32F, 0, 1, ksize=3)
    mag, ang = cv2.cartToPolar(gx, gy)
    bins = np.minimum((np.mod(ang, np.pi) * (BINS / np.pi)).astype(np.int32), BINS - 1)
    cells = np.stack(
        [
            cv2.resize(np.where(bins == k, mag, 0.0), GRID, interpolation=cv2.INTER_AREA)
            for k in range(BINS)
        ],
        axis=-1,
    )
    scale = float(np.median(cells.sum(axis=-1))) + 1e-6
    return np.minimum(255, np.round(_CODE * np.sqrt(cells / scale))).astype(np.uint8).ravel()


def decode(codes: np.ndarray) -> np.ndarray:
    """``(N, SIGNATURE_BYTES)`` uint8 -> ``(N, cells, BINS)`` float32 histograms."""
    c = np.asarray(codes, dtype=np.float32).reshape(len(codes), -1, BINS)
    return (c / _CODE) ** 2


def encode(hist: np.ndarray) -> np.ndarray:
    """Inverse of :func:`decode` for one ``(cells, BINS)`` histogram (a learned median)."""
    return np.minimum(255, np.round(_CODE * np.sqrt(np.maximum(hist, 0)))).astype(np.uint8).ravel()


def from_binary(values: list[bytes | None]) -> tuple[np.ndarray, np.ndarray]:
    """A ``view_signature`` column's values -> ``(N, SIGNATURE_BYTES)`` uint8 and a has-mask."""
    has = np.array([v is not None and len(v) == SIGNATURE_BYTES for v in values], dtype=bool)
    out = np.zeros((len(values), SIGNATURE_BYTES), np.uint8)
    for i in np.flatnonzero(has):
        out[i] = np.frombuffer(values[i], dtype=np.uint8)
    return out, has


def _unit(hist: np.ndarray) -> np.ndarray:
    return hist / (np.linalg.norm(hist, axis=-1, keepdims=True) + 1e-6)


def textured(hist: np.ndarray) -> np.ndarray:
    """Cells of a reference histogram with at least its median edge energy (flat walls have
    no orientation worth comparing)."""
    energy = hist.sum(axis=-1)
    return energy >= np.median(energy)


def distance(hists: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Median over the reference's textured cells of ``1 - cosine`` per sample: 0 the same
    view, about 0.1 and more a view turned, zoomed or shifted; ``hists`` ``(N, cells, BINS)``."""
    mask = textured(reference)
    ref = _unit(reference)[mask]
    out = np.empty(len(hists), np.float64)
    for a in range(0, len(hists), 2048):  # bounded memory on long batches
        part = _unit(hists[a : a + 2048])[:, mask]
        out[a : a + 2048] = np.median(1.0 - (part * ref).sum(axis=-1), axis=1)
    return out


def median_view(hists: np.ndarray, max_samples: int = 2000) -> np.ndarray:
    """The per-bin median of many samples' histograms: the static room without passers-by."""
    if len(hists) > max_samples:  # evenly spread: enough for a median, bounded cost
        hists = hists[np.linspace(0, len(hists) - 1, max_samples).astype(int)]
    return np.median(hists, axis=0)


class ViewSignals:
    """``view_signature``: the structure signature of each sample (the clock box painted over)."""

    name = "view"
    columns = ("view_signature",)

    def __call__(self, batch: FrameBatch, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        gray = without_overlay(batch.gray, clock_region_of(ctx))
        out = np.empty(len(gray), dtype=object)
        for i, g in enumerate(gray):
            out[i] = signature(g).tobytes()
        return {"view_signature": out}
