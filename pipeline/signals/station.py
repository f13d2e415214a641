"""Hands-on activity at the equipment station: how much of the station zone changes per sample.

``station_motion`` is the fraction of the zone's pixels whose (lightly blurred) luma changed by
more than ``CHANGE_LEVEL`` since the previous sample, after removing the zone's median change
(a global lighting shift is not activity). NaN where the camera has no station zone or the
first sample of a file has no predecessor.
"""

from __future__ import annotations

import numpy as np

from pipeline.media.frames import FrameBatch
from pipeline.signals import AnalysisContext
from pipeline.zones import Zone

CHANGE_LEVEL = 18  # grey levels; above sensor noise and compression flicker at analysis size


def prepare(gray: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(gray, (5, 5), 0).astype(np.int16)


def changed(prev: np.ndarray, cur: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Boolean map of ``mask`` pixels that changed between two blurred luma frames, after
    removing the zone's median change (lighting)."""
    d = cur - prev
    inside = d[mask]
    shift = np.median(inside) if inside.size else 0
    return (np.abs(d - shift) > CHANGE_LEVEL) & mask


def zone_motion(prev: np.ndarray, cur: np.ndarray, mask: np.ndarray) -> float:
    """Fraction of ``mask`` pixels that changed between two blurred luma frames."""
    n = int(mask.sum())
    return float(changed(prev, cur, mask).sum() / n) if n else float("nan")


def box_motion(moved: np.ndarray, mask: np.ndarray, box_px: np.ndarray, grow: float) -> float:
    """Share of changed pixels in a person's box (grown by ``grow`` of its size on each side)
    within the zone: the person's own hands and the equipment they touch."""
    h, w = moved.shape
    x1, y1, x2, y2 = box_px
    gx, gy = grow * (x2 - x1), grow * (y2 - y1)
    xa, ya = max(0, int(x1 - gx)), max(0, int(y1 - gy))
    xb, yb = min(w, int(np.ceil(x2 + gx))), min(h, int(np.ceil(y2 + gy)))
    region = mask[ya:yb, xa:xb]
    n = int(region.sum())
    return float(moved[ya:yb, xa:xb][region].sum() / n) if n else 0.0


class StationSignals:
    name = "station"
    columns = ("station_motion",)

    def __call__(self, batch: FrameBatch, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        n = len(batch)
        out = np.full(n, np.nan, np.float32)
        zone = Zone.of(ctx.camera.station_zone)
        if zone is None or n == 0:
            return {"station_motion": out}
        import cv2

        gray = batch.gray
        h, w = gray.shape[1:3]
        mask = zone.mask(w, h)
        prev = None
        if batch.prev is not None and batch.prev.shape[:2] == (h, w):
            prev = prepare(cv2.cvtColor(batch.prev, cv2.COLOR_BGR2GRAY))
        for i in range(n):
            cur = prepare(gray[i])
            if prev is not None:
                out[i] = zone_motion(prev, cur, mask)
            prev = cur
        return {"station_motion": out}
