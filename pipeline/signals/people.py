"""People on the sampled frames: how many, and how many stand in the proctor and station zones.

The detector comes from the analysis context (built once per worker by the scan); without one,
the embedded HOG detector is built lazily on first use.
"""

from __future__ import annotations

import numpy as np

from pipeline.detectors import Detections, Detector
from pipeline.frames import FrameBatch
from pipeline.signals import AnalysisContext
from pipeline.zones import Zone, count_in


class PeopleSignals:
    name = "people"
    columns = ("persons", "persons_in_proctor_zone", "persons_in_station_zone")

    def __init__(self) -> None:
        self._default: Detector | None = None

    def detector(self, ctx: AnalysisContext) -> Detector:
        if ctx.detector is not None:
            return ctx.detector
        if self._default is None:
            from pipeline.detectors.hog import HogDetector

            self._default = HogDetector(reason="default (no detector in the analysis context)")
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
        }
