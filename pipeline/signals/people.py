"""People on the sampled frames: how many, and how many stand in the proctor, station and
candidate zones (``persons_in_candidate_zone`` is null for a camera without a candidate zone:
no head count there, rather than a count of zero).

The detector comes from the analysis context (built once per worker by the scan); without one,
the committed SSDLite detector is built lazily on first use.

``station_hands_on`` counts the people in the station zone whose own surroundings (their box,
grown by a quarter) changed since the previous sample: someone operating the equipment. Motion
elsewhere in the zone (a person walking off, a lamp) next to a static false detection (HOG
fires on some cabinets) is not hands-on work. Null for a sample with no predecessor.

``person_boxes`` keeps every person box of a sample with its score and the motion around it
(share of changed pixels in the box grown by a tenth, since the previous sample; null without
one), so the session-level pass in :mod:`pipeline.findings.people` can recognise a detection
that stays put without motion all session long (a poster, a coat on a chair) and leave it out.
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
STILL_GROW = 0.1  # motion "around the box" for the static look-alike test: the box plus a rim
BOX_FIELDS = ("x1", "y1", "x2", "y2", "score", "motion")


class PeopleSignals:
    name = "people"
    columns = (
        "persons",
        "persons_in_proctor_zone",
        "persons_in_station_zone",
        "station_hands_on",
        "person_boxes",
        "persons_in_candidate_zone",
    )

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
        seats = Zone.of(ctx.camera.candidate_zone)
        return {
            "persons": np.array([len(d) for d in dets], np.int16),
            "persons_in_proctor_zone": np.array(
                [count_in(d, proctor, anchor) for d in dets], np.int16
            ),
            "persons_in_station_zone": np.array(
                [count_in(d, station, anchor) for d in dets], np.int16
            ),
            "station_hands_on": hands_on(batch, dets, station, anchor),
            "person_boxes": person_boxes(batch, dets),
            "persons_in_candidate_zone": np.array(
                [np.nan if seats is None else count_in(d, seats, anchor) for d in dets],
                np.float32,
            ),
        }


def _prepared(batch: FrameBatch) -> tuple[np.ndarray | None, list[np.ndarray]]:
    """Blurred luma of the previous chunk's last sample (None when unknown) and of each sample."""
    import cv2

    gray = batch.gray
    h, w = gray.shape[1:3]
    prev = None
    if batch.prev is not None and batch.prev.shape[:2] == (h, w):
        prev = prepare(cv2.cvtColor(batch.prev, cv2.COLOR_BGR2GRAY))
    return prev, [prepare(g) for g in gray]


def person_boxes(batch: FrameBatch, dets: list[Detections]) -> np.ndarray:
    """Per sample: a list of ``{x1, y1, x2, y2, score, motion}`` (normalised box; motion around
    it since the previous sample, None for a sample without one)."""
    out = np.empty(len(batch), dtype=object)
    if len(batch) == 0:
        return out
    prev, cur = _prepared(batch)
    h, w = cur[0].shape
    full = np.ones((h, w), bool)
    for i, det in enumerate(dets):
        before = cur[i - 1] if i > 0 else prev
        moved = changed(before, cur[i], full) if before is not None and len(det) else None
        rows = []
        for box, px, score in zip(det.boxes, det.to_pixels((w, h)), det.scores, strict=True):
            m = None if moved is None else round(box_motion(moved, full, px, STILL_GROW), 4)
            rows.append(dict(zip(BOX_FIELDS, [*map(float, box), float(score), m], strict=True)))
        out[i] = rows
    return out


def hands_on(
    batch: FrameBatch, dets: list[Detections], station: Zone | None, anchor: str
) -> np.ndarray:
    """Per sample: people in the station zone with motion around them (float, NaN unknown)."""
    out = np.full(len(batch), np.nan, np.float32)
    if station is None or len(batch) == 0:
        return out
    prev, frames = _prepared(batch)
    h, w = frames[0].shape
    mask = station.mask(w, h)
    for i, det in enumerate(dets):
        cur = frames[i]
        if prev is not None:
            inside = station.contains(det.anchors(anchor)) if len(det) else np.zeros(0, bool)
            moved = changed(prev, cur, mask) if inside.any() else None
            out[i] = sum(
                box_motion(moved, mask, box, BOX_GROW) >= HANDS_ON_MOTION
                for box in det.to_pixels((w, h))[inside]
            )
        prev = cur
    return out
