"""People on the sampled frames: how many, and how many stand in the proctor and station zones.

The detector comes from the analysis context (built once per worker by the scan); without one,
the committed SSDLite detector is built lazily on first use.

``station_hands_on`` counts the people in the station zone whose own surroundings (their box,
grown by a quarter) changed since the previous sample: someone operating the equipment. Motion
elsewhere in the zone (a person walking off, a lamp) next to a static false detection (HOG
fires on some cabinets) is not hands-on work. Null for a sample with no predecessor.
"""

from __future__ import annotations

import numpy as np

from pipeline.detectors import Detections, Detector
from pipeline.frames import FrameBatch
from pipeline.signals import AnalysisContext
from pipeline.signals.station import box_motion, changed, prepare
from pipeline.zones import Zone, count_in

HANDS_ON_MOTION = 0.02  # share of changed pixels around a person at the station
BOX_GROW = 0.25


class PeopleSignals:
    name = "people"
    columns = ("persons", "persons_in_proctor_zone", "persons_in_station_zone", "station_hands_on")

    def __init__(self) -> None:
        self._default: Detector | None = None

    def detector(self, ctx: AnalysisContext) -> Detector:
        if ctx.detector is not None:
            return ctx.detector
        if self._default is None:
            from pipeline.detectors.ssdlite import SsdliteDetector

            self._default = SsdliteDetector(reason="default (no detector in the analysis context)")
        return self._default

    def detect(self, batch: FrameBatch, ctx: AnalysisContext) -> list[Detections]:
        if len(batch) == 0:
            return []
        dets = self.detector(ctx).detect(batch.frames)
        if len(dets) != len(batch):
            raise ValueError(f"detector returned {len(dets)} results for {len(batch)} frames")
        return [d.persons() for d in dets]

    def __call__(self, batch: FrameBatch, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        dets = self.detect(batch, ctx)
        anchor = ctx.analysis.person_anchor
        proctor = Zone.of(ctx.camera.proctor_zone)
        station = Zone.of(ctx.camera.station_zone)
        return {
            "persons": np.array([len(d) for d in dets], np.int16),
            "persons_in_proctor_zone": np.array(
                [count_in(d, proctor, anchor) for d in dets], np.int16
            ),
            "persons_in_station_zone": np.array(
                [count_in(d, station, anchor) for d in dets], np.int16
            ),
            "station_hands_on": hands_on(batch, dets, station, anchor),
        }


def hands_on(
    batch: FrameBatch, dets: list[Detections], station: Zone | None, anchor: str
) -> np.ndarray:
    """Per sample: people in the station zone with motion around them (float, NaN unknown)."""
    import cv2

    out = np.full(len(batch), np.nan, np.float32)
    if station is None or len(batch) == 0:
        return out
    gray = batch.gray
    h, w = gray.shape[1:3]
    mask = station.mask(w, h)
    prev = None
    if batch.prev is not None and batch.prev.shape[:2] == (h, w):
        prev = prepare(cv2.cvtColor(batch.prev, cv2.COLOR_BGR2GRAY))
    for i, det in enumerate(dets):
        cur = prepare(gray[i])
        if prev is not None:
            inside = station.contains(det.anchors(anchor)) if len(det) else np.zeros(0, bool)
            moved = changed(prev, cur, mask) if inside.any() else None
            out[i] = sum(
                box_motion(moved, mask, box, BOX_GROW) >= HANDS_ON_MOTION
                for box in det.to_pixels((w, h))[inside]
            )
        prev = cur
    return out
