"""Zones: normalised polygons from site.toml, and which detected people stand in them.

A person is in a zone when the anchor point of their box lies inside the polygon: the
bottom-centre (where the feet touch the floor, the default) or the box centre
(``analysis.person_anchor``), both in normalised coordinates like the polygons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from pipeline.detectors import Detections

ANCHORS = ("bottom_center", "center")


@dataclass(frozen=True)
class Zone:
    """A polygon in normalised ``(x, y)`` coordinates (x right, y down, both in [0, 1])."""

    points: tuple[tuple[float, float], ...]

    @classmethod
    def of(cls, polygon: Sequence[Sequence[float]] | None) -> Zone | None:
        return None if polygon is None else cls(tuple((float(x), float(y)) for x, y in polygon))

    @cached_property
    def _edges(self) -> tuple[np.ndarray, ...]:
        """Each edge's start ``(x0, y0)``, its end's ``y1``, its vector ``(ex, ey)`` and squared
        length, as ``(1, E)`` rows: fixed per zone, while ``contains`` runs per sample."""
        poly = np.asarray(self.points, dtype=np.float64)
        x0, y0 = poly[:, 0][None, :], poly[:, 1][None, :]
        x1, y1 = np.roll(poly[:, 0], -1)[None, :], np.roll(poly[:, 1], -1)[None, :]
        ex, ey = x1 - x0, y1 - y0
        return x0, y0, y1, ex, ey, ex * ex + ey * ey

    def contains(self, xy: np.ndarray) -> np.ndarray:
        """Boolean per point of ``xy (K, 2)``: inside or on the polygon (even-odd rule)."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        px, py = xy[:, 0][:, None], xy[:, 1][:, None]
        x0, y0, y1, ex, ey, length2 = self._edges
        crosses = (y0 > py) != (y1 > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x0 + (py - y0) * ex / ey
            # points on an edge count as inside (a box touching the frame border, a full zone)
            u = np.clip(((px - x0) * ex + (py - y0) * ey) / length2, 0, 1)
        inside = (crosses & (px < x_at)).sum(axis=1) % 2 == 1
        dist2 = (x0 + u * ex - px) ** 2 + (y0 + u * ey - py) ** 2
        on_edge = (np.nan_to_num(dist2, nan=np.inf) <= 1e-12).any(axis=1)
        return inside | on_edge

    def mask(self, width: int, height: int) -> np.ndarray:
        """Boolean ``(height, width)`` pixel mask of the zone in a frame of that size."""
        import cv2

        pts = np.round(np.asarray(self.points) * [width - 1, height - 1]).astype(np.int32)
        m = np.zeros((height, width), np.uint8)
        cv2.fillPoly(m, [pts], 1)
        return m.astype(bool)


def count_in(det: Detections, zone: Zone | None, anchor: str = "bottom_center") -> int:
    """People of ``det`` whose anchor lies in ``zone``; 0 when the camera has no such zone."""
    if zone is None or len(det) == 0:
        return 0
    return int(zone.contains(det.anchors(anchor)).sum())
