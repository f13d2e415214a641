"""Static look-alikes: a person detection that stays at one place without motion all session.

A poster, a coat on a chair or a sign can look like a person to a detector, sample after
sample. Seen one sample at a time it is indistinguishable from someone sitting still; seen over
the whole session it is not: it never moves. From the timeline's ``person_boxes`` (each box
with the motion around it since the previous sample, see :mod:`pipeline.signals.people`) this
pass finds places where a box

- is detected in at least ``lookalike_min_share`` of the session's samples, from its first
  tenth to its last tenth (it is there all session), at the same place (IoU >= ``MATCH_IOU``
  with the first box seen there), and
- shows motion (``lookalike_moving``) in at most ``lookalike_max_moving_share`` of the samples
  where no other box overlaps it (someone walking in front of a poster moves pixels that are
  not the poster's).

Those three are the people check's settings (:mod:`pipeline.checks.people`); the geometry
below (IoU, overlap, edges, the least samples to judge) stays fixed.

A person sitting still is not such a place: breathing, writing, looking up move the pixels
around them in far more samples than that. The boxes at a look-alike's place are then left out
of the people counts in samples where they show no motion (someone who does stand there and
move still counts), and the findings say what was left out and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa

from pipeline.detectors import Detections
from pipeline.inputs.config import Limits, Rules
from pipeline.zones import Zone, count_in

MATCH_IOU = 0.6
EDGE_SHARE = 0.1  # first and last detection within this share of the samples from the ends
MIN_CLEAR = 5  # samples with known motion and no other box in front, to judge at all
OVERLAP = 0.2  # another box covering this share of a look-alike's box hides it
FULL = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
COUNT_COLUMNS = {  # timeline column -> zone of the camera it counts (None: whole frame)
    "persons": None,
    "persons_in_proctor_zone": "proctor_zone",
    "persons_in_station_zone": "station_zone",
    "persons_in_candidate_zone": "candidate_zone",
}


@dataclass(frozen=True)
class LookalikeTest(Limits):
    """The people check's look-alike limits (settings ``lookalike_*``)."""

    prefix: ClassVar[str] = "lookalike_"
    min_share: float  # of the session's samples with a detection at the place
    max_moving_share: float  # of its clear samples with motion around it
    moving: float  # share of changed pixels around a box that counts as motion


@dataclass(frozen=True)
class Lookalike:
    """A place where a motionless detection stayed all session, and the evidence for it."""

    box: tuple[float, float, float, float]  # normalised xyxy of the first box seen there
    samples: int  # samples with a detection there
    share: float  # ... of the session's samples
    moving_share: float  # share of its clear samples with motion around it
    clear_samples: int

    def details(self) -> dict:
        return {
            "box": [round(v, 3) for v in self.box],
            "share_of_samples": round(self.share, 3),
            "moving_share": round(self.moving_share, 3),
            "reason": "detected at the same place all session without motion around it "
            "(static look-alike: poster, coat, sign); left out of the people counts",
        }


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    if len(boxes) == 0:
        return np.zeros(0)
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def _covered(box: np.ndarray, others: np.ndarray) -> bool:
    """Whether another box covers at least ``OVERLAP`` of ``box``."""
    if len(others) == 0:
        return False
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    return bool((inter / max((box[2] - box[0]) * (box[3] - box[1]), 1e-9) >= OVERLAP).any())


def samples_of(rows: list) -> list[tuple[np.ndarray, np.ndarray]]:
    """``person_boxes`` cells -> per sample ``(boxes (K, 4), motion (K,), NaN unknown)``."""
    out = []
    for cell in rows:
        cell = cell or []
        boxes = np.array([[b["x1"], b["y1"], b["x2"], b["y2"]] for b in cell], np.float64)
        motion = np.array([np.nan if b["motion"] is None else b["motion"] for b in cell])
        out.append((boxes.reshape(-1, 4), motion.astype(np.float64)))
    return out


def find_lookalikes(
    samples: list[tuple[np.ndarray, np.ndarray]], test: LookalikeTest | None = None
) -> list[Lookalike]:
    """The static look-alikes among one session's samples (in time order)."""
    lim = test or LookalikeTest.of()
    n = len(samples)
    if n == 0:
        return []
    seed_until = max(1, int(np.ceil(EDGE_SHARE * n)))
    refs: list[np.ndarray] = []
    for boxes, _ in samples[:seed_until]:  # a place there all session is seen at its start
        for b in boxes:
            if not refs or _iou(b, np.array(refs)).max() < MATCH_IOU:
                refs.append(b)
    found = []
    for ref in refs:
        hits, moving, clear = [], 0, 0
        for i, (boxes, motion) in enumerate(samples):
            iou = _iou(ref, boxes)
            if not len(iou) or iou.max() < MATCH_IOU:
                continue
            j = int(iou.argmax())
            hits.append(i)
            if not np.isnan(motion[j]) and not _covered(boxes[j], np.delete(boxes, j, axis=0)):
                clear += 1
                moving += int(motion[j] >= lim.moving)
        if len(hits) < lim.min_share * n or hits[-1] < n - seed_until or clear < MIN_CLEAR:
            continue
        if moving <= lim.max_moving_share * clear:
            found.append(
                Lookalike(tuple(map(float, ref)), len(hits), len(hits) / n, moving / clear, clear)
            )
    return found


def drop_static_lookalikes(
    timeline: pa.Table, camera, anchor: str = "bottom_center", rules: Rules | None = None
) -> tuple[pa.Table, list[Lookalike]]:
    """The session timeline with boxes at static look-alike places left out of the people
    counts (where they show no motion), and the look-alikes found (``rules``: the site's,
    None: the declared defaults). A timeline without ``person_boxes`` (older evidence) is
    returned as it is."""
    lim = LookalikeTest.of(rules)
    if "person_boxes" not in timeline.column_names or timeline.num_rows == 0:
        return timeline, []
    if "t" in timeline.column_names:
        timeline = timeline.sort_by("t")
    samples = samples_of(timeline.column("person_boxes").to_pylist())
    found = find_lookalikes(samples, lim)
    if not found:
        return timeline, []
    refs = np.array([f.box for f in found])
    dropped: list[Detections] = []
    for boxes, motion in samples:
        drop = np.zeros(len(boxes), bool)
        for k, b in enumerate(boxes):
            still = np.isnan(motion[k]) or motion[k] < lim.moving
            drop[k] = still and _iou(b, refs).max() >= MATCH_IOU
        d = boxes[drop]
        dropped.append(Detections(d, np.ones(len(d)), np.zeros(len(d))))
    for column, zone_key in COUNT_COLUMNS.items():
        if column not in timeline.column_names:
            continue
        zone = Zone.of(FULL if zone_key is None else getattr(camera, zone_key))
        less = np.array([count_in(d, zone, anchor) for d in dropped])
        old = timeline.column(column)
        values = old.to_numpy(zero_copy_only=False).astype(np.float64)
        new = np.where(np.isnan(values), np.nan, np.maximum(values - less, 0))
        arr = pa.array(np.nan_to_num(new).astype(np.int16), old.type, mask=np.isnan(new))
        timeline = timeline.set_column(timeline.column_names.index(column), column, arr)
    return timeline, found
