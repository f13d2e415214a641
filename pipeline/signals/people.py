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

import itertools

import numpy as np

from pipeline.detectors import Detections, Detector
from pipeline.media.frames import FrameBatch
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
        "people_detected",
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

    def _run(self, batch: FrameBatch, ctx: AnalysisContext, idx: list[int]) -> list[Detections]:
        if not idx:
            return []
        dets = self.detector(ctx).detect(batch.frames[idx])
        if len(dets) != len(idx):
            raise ValueError(f"detector returned {len(dets)} results for {len(idx)} frames")
        return [d.persons() for d in dets]

    def detect(
        self, batch: FrameBatch, ctx: AnalysisContext
    ) -> tuple[list[Detections], np.ndarray]:
        """Detections per sample, coarse to fine, and which samples the detector saw.

        The detector runs on every ``stride``-th sample (and the chunk's last); between two of
        them whose zone counts differ it bisects: the sample halfway, then each half whose
        ends still differ, until the change is between neighbours. So each change of state is
        placed to the sample for about log2(stride) runs instead of stride - 1 (one for each
        sample between). A sample between two looks with equal states
        holds the detections of the one before it, here as between two coarse samples (a
        count that flickers there, a seated candidate missed once, is not seen): nothing
        changed that a rule could measure, since the stride is a quarter of the shortest
        people rule (:func:`people_stride`).
        """
        n = len(batch)
        if n == 0:
            return [], np.zeros(0, bool)
        stride = people_stride(ctx, n)
        zones, anchor = state_zones(ctx), ctx.analysis.person_anchor
        found: dict[int, Detections] = {}
        state: dict[int, tuple[int, ...]] = {}

        def look(idx: list[int]) -> None:
            dets = self._run(batch, ctx, idx)
            counts = zone_counts(dets, zones, anchor)
            for i, det, row in zip(idx, dets, counts, strict=True):
                found[i], state[i] = det, tuple(row)

        coarse = sorted({*range(0, n, stride), n - 1})
        look(coarse)
        spans = list(itertools.pairwise(coarse))
        # one detector call per round of halvings, over every span whose ends still differ
        while spans := [(a, b) for a, b in spans if b - a > 1 and state[a] != state[b]]:
            mids = [(a + b) // 2 for a, b in spans]
            look(mids)
            spans = [
                half for (a, b), m in zip(spans, mids, strict=True) for half in ((a, m), (m, b))
            ]
        seen = np.zeros(n, bool)
        seen[list(found)] = True
        out: list[Detections] = []
        for i in range(n):
            out.append(found[i] if seen[i] else out[-1])
        return out, seen

    def __call__(self, batch: FrameBatch, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        dets, seen = self.detect(batch, ctx)
        anchor = ctx.analysis.person_anchor
        proctor = Zone.of(ctx.camera.proctor_zone)
        station = Zone.of(ctx.camera.station_zone)
        seats = Zone.of(ctx.camera.candidate_zone)
        counts = zone_counts(dets, [proctor, station, seats], anchor)
        prepared = _prepared(batch) if len(batch) else (None, [])
        return {
            "persons": np.array([len(d) for d in dets], np.int16),
            "persons_in_proctor_zone": counts[:, 0],
            "persons_in_station_zone": counts[:, 1],
            "station_hands_on": hands_on(batch, dets, station, anchor, prepared),
            "person_boxes": person_boxes(batch, dets, prepared),
            "people_detected": seen,
            "persons_in_candidate_zone": (
                np.full(len(dets), np.nan, np.float32)
                if seats is None
                else counts[:, 2].astype(np.float32)
            ),
        }


def people_stride(ctx: AnalysisContext, n: int) -> int:
    """Samples between two detector runs: ``analysis.people_every_s``, or by default a
    quarter of the shortest people rule (an absence, an idle station, too few proctors are
    minutes long, so a state that lasts less than a quarter of one cannot make or break it)."""
    every = float(ctx.analysis.people_every_s)
    if every <= 0:
        rules = [float(ctx.rules.value(r)) for r in PEOPLE_RULES if _has_rule(ctx, r)]
        every = min((r for r in rules if r > 0), default=0.0) / 4.0
    step = float(ctx.analysis.sample_every_s)
    return max(1, min(n, int(every // step))) if step > 0 else 1


PEOPLE_RULES = ("min_proctor_absence_s", "min_station_idle_s", "min_understaffed_s")


def _has_rule(ctx: AnalysisContext, name: str) -> bool:
    try:
        ctx.rules.value(name)
    except KeyError:
        return False
    return True


def state_zones(ctx: AnalysisContext) -> list[Zone | None]:
    """The zones whose head counts a people rule measures on one sample (the candidate zone
    only where the camera has one)."""
    zones = [Zone.of(ctx.camera.proctor_zone), Zone.of(ctx.camera.station_zone)]
    if ctx.camera.candidate_zone is not None:
        zones.append(Zone.of(ctx.camera.candidate_zone))
    return zones


def zone_counts(dets: list[Detections], zones: list[Zone | None], anchor: str) -> np.ndarray:
    """``(len(dets), len(zones))`` int16: the people of each sample in each zone (0 for a zone
    the camera lacks). A sample the detector skipped holds its predecessor's Detections
    object, so each distinct one is counted once, not once per sample."""
    out = np.zeros((len(dets), len(zones)), np.int16)
    rows: dict[int, list[int]] = {}
    for i, det in enumerate(dets):
        row = rows.get(id(det))
        if row is None:
            row = rows[id(det)] = [count_in(det, z, anchor) for z in zones]
        out[i] = row
    return out


def _prepared(batch: FrameBatch) -> tuple[np.ndarray | None, list[np.ndarray]]:
    """Blurred luma of the previous chunk's last sample (None when unknown) and of each sample."""
    import cv2

    gray = batch.gray
    h, w = gray.shape[1:3]
    prev = None
    if batch.prev is not None and batch.prev.shape[:2] == (h, w):
        prev = prepare(cv2.cvtColor(batch.prev, cv2.COLOR_BGR2GRAY))
    return prev, [prepare(g) for g in gray]


def person_boxes(
    batch: FrameBatch,
    dets: list[Detections],
    prepared: tuple[np.ndarray | None, list[np.ndarray]] | None = None,
) -> np.ndarray:
    """Per sample: a list of ``{x1, y1, x2, y2, score, motion}`` (normalised box; motion around
    it since the previous sample, None for a sample without one). ``prepared``: the batch's
    :func:`_prepared` luma when the caller has it already."""
    out = np.empty(len(batch), dtype=object)
    if len(batch) == 0:
        return out
    prev, cur = prepared or _prepared(batch)
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
    batch: FrameBatch,
    dets: list[Detections],
    station: Zone | None,
    anchor: str,
    prepared: tuple[np.ndarray | None, list[np.ndarray]] | None = None,
) -> np.ndarray:
    """Per sample: people in the station zone with motion around them (float, NaN unknown)."""
    out = np.full(len(batch), np.nan, np.float32)
    if station is None or len(batch) == 0:
        return out
    prev, frames = prepared or _prepared(batch)
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
