"""A 64-bit perceptual hash per sample: compact enough to compare months of footage.

DCT hash (pHash): the 8x8 lowest frequencies of a 32x32 grey thumbnail, each bit set where the
coefficient exceeds their median. It ignores sensor noise, compression and a change in
brightness, so the same footage hashes the same even after re-encoding; a person crossing the
room flips a few bits, a camera turned away flips about half of them.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.media.frames import FrameBatch
from pipeline.signals import AnalysisContext
from pipeline.signals.picture import clock_region_of, gray_of, without_overlay

MOTION_CELL_LEVEL = 2.0  # grey levels of a cell's mean
GRID_THUMB = (64, 48)  # motion_grid: thumbnail where motion energy is measured
GRID = 8  # ... pooled to GRID x GRID cells
GRID_FLOOR = 0.1  # per-pixel change, in units of the picture's own contrast, that is noise
GRID_STILL = 10.0  # total energy below this: nothing moved (an empty room with noise: ~6)
_WEIGHTS = (1 << np.arange(63, -1, -1, dtype=np.uint64)).astype(np.uint64)


def thumbnail(gray: np.ndarray) -> np.ndarray:
    """32x32 area-averaged thumbnail (float32): all three per-sample values derive from it."""
    return cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)


def phash(gray: np.ndarray, thumb: np.ndarray | None = None) -> int:
    """64-bit DCT hash of one luma image."""
    thumb = thumbnail(gray) if thumb is None else thumb
    low = cv2.dct(thumb)[:8, :8].ravel()
    bits = low > np.median(low[1:])  # the DC term only says how bright the picture is
    bits[0] = False
    return int((bits.astype(np.uint64) * _WEIGHTS).sum(dtype=np.uint64))


def ahash(gray: np.ndarray, thumb: np.ndarray | None = None) -> int:
    """64-bit average hash: 8x8 block means above their median. Unlike the DCT hash each bit
    is local, so a person covers a few bits while a turned camera changes many."""
    blocks = cell_means(gray, thumb).ravel()
    bits = blocks > np.median(blocks)
    return int((bits.astype(np.uint64) * _WEIGHTS).sum(dtype=np.uint64))


def phashes(gray: np.ndarray) -> np.ndarray:
    """Hashes of ``(N, H, W)`` luma images as uint64."""
    return np.fromiter((phash(g) for g in gray), dtype=np.uint64, count=len(gray))


def popcount(x: np.ndarray) -> np.ndarray:
    """Set bits per uint64 (numpy >= 2 has it built in)."""
    x = np.asarray(x, dtype=np.uint64)
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x).astype(np.int16)
    as_bytes = x.reshape(-1, 1).view(np.uint8)
    return np.unpackbits(as_bytes, axis=1).sum(axis=1).reshape(x.shape).astype(np.int16)


def hamming(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """Bitwise distance of uint64 hashes (broadcasting)."""
    return popcount(np.bitwise_xor(np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64)))


def bit_table(hashes: np.ndarray) -> np.ndarray:
    """``(N, 64)`` 0/1 matrix of hash bits, most significant first."""
    h = np.asarray(hashes, dtype=np.uint64)
    return ((h[:, None] >> np.arange(63, -1, -1, dtype=np.uint64)) & np.uint64(1)).astype(np.int8)


def pack(bits: np.ndarray) -> int:
    return int((np.asarray(bits).astype(np.uint64) * _WEIGHTS).sum(dtype=np.uint64))


def majority(hashes: np.ndarray) -> int:
    """Per-bit majority of hashes: a reference that ignores passers-by in a few samples."""
    h = np.asarray(hashes, dtype=np.uint64)
    if not len(h):
        return 0
    return pack(bit_table(h).sum(axis=0, dtype=np.int64) * 2 > len(h))


def cell_means(gray: np.ndarray, thumb: np.ndarray | None = None) -> np.ndarray:
    """8x8 grid of cell mean luma, float32 (area means of the 32x32 thumbnail's 4x4 blocks)."""
    thumb = thumbnail(gray) if thumb is None else thumb
    return thumb.reshape(8, 4, 8, 4).mean(axis=(1, 3))


def motion_cells(cells: np.ndarray, prev: np.ndarray | None) -> int:
    """Bits of the 8x8 cells whose mean luma moved by more than ``MOTION_CELL_LEVEL`` (after
    removing the change of overall brightness). Averaging a cell's thousands of pixels removes
    sensor noise, so a still room sets no bit; where someone moved sets a few. Which cells
    changed, sample after sample, is the signature of a stretch of footage."""
    if prev is None:
        return 0
    d = (cells - cells.mean()) - (prev - prev.mean())
    return pack(np.abs(d).ravel() > MOTION_CELL_LEVEL)


def grid_thumb(gray: np.ndarray) -> np.ndarray:
    """Zero-mean, unit-variance 64x48 thumbnail: brightness and contrast (and most of a
    gamma change) cancel before anything is compared."""
    small = cv2.resize(gray, GRID_THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)
    return (small - small.mean()) / max(float(small.std()), 1.0)


def motion_grid(thumb: np.ndarray, prev: np.ndarray | None) -> bytes:
    """Where the picture moved since the previous sample, as an 8x8 grid of bytes (row major).

    Each cell holds its share of the sample's motion energy (changed-pixel magnitude above a
    noise floor, on normalised thumbnails), scaled so the busiest cell is 255: the static
    background contributes nothing, so two sessions of the same room differ here while a
    re-encoded, re-lit or slightly rescaled copy keeps the same grid. A still sample is all
    zeros. Cells are coarse (an eighth of the frame), so a crop of a few per cent moves energy
    only partly into a neighbour cell.
    """
    if prev is None:
        return bytes(GRID * GRID)
    d = np.maximum(np.abs(thumb - prev) - GRID_FLOOR, 0.0)
    h, w = d.shape
    cells = d.reshape(GRID, h // GRID, GRID, w // GRID).sum(axis=(1, 3))
    if float(cells.sum()) < GRID_STILL:
        return bytes(GRID * GRID)
    return np.round(255.0 * cells / cells.max()).astype(np.uint8).tobytes()


class FingerprintSignals:
    """``fingerprint`` (DCT hash: the scene), ``layout`` (average hash: the view),
    ``motion_cells`` (where the picture changed since the previous sample, uint64) and
    ``motion_grid`` (how much it moved where: 8x8 bytes, see :func:`motion_grid`)."""

    name = "fingerprint"
    columns = ("fingerprint", "layout", "motion_cells", "motion_grid")

    def __call__(self, batch: FrameBatch, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        region = clock_region_of(ctx)
        gray = without_overlay(batch.gray, region)
        n = len(gray)
        fingerprint = np.zeros(n, dtype=np.uint64)
        layout = np.zeros(n, dtype=np.uint64)
        moved = np.zeros(n, dtype=np.uint64)
        grids = np.empty(n, dtype=object)
        prev = prev_grid = None
        if batch.prev is not None:
            before = without_overlay(gray_of(batch.prev), region)
            prev, prev_grid = cell_means(before), grid_thumb(before)
        for i, g in enumerate(gray):
            thumb = thumbnail(g)
            cells = cell_means(g, thumb)
            fingerprint[i] = phash(g, thumb)
            layout[i] = ahash(g, thumb)
            moved[i] = motion_cells(cells, prev)
            small = grid_thumb(g)
            grids[i] = motion_grid(small, prev_grid)
            prev, prev_grid = cells, small
        return {
            "fingerprint": fingerprint,
            "layout": layout,
            "motion_cells": moved,
            "motion_grid": grids,
        }
