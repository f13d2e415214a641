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
    if not refs:
        return []
    flat = _Flat.of(samples)
    found = []
    for ref in refs:
        hits, best = flat.matches(ref)
        if len(hits) < lim.min_share * n or hits[-1] < n - seed_until:
            continue
        known = ~np.isnan(flat.motion[best])
        judged = best[known & ~flat.covered(best)]
        clear = len(judged)
        if clear < MIN_CLEAR:
            continue
        moving = int(np.count_nonzero(flat.motion[judged] >= lim.moving))
        if moving <= lim.max_moving_share * clear:
            found.append(
                Lookalike(tuple(map(float, ref)), len(hits), len(hits) / n, moving / clear, clear)
            )
    return found


@dataclass(frozen=True)
class _Flat:
    """Every box of a session in one array (with its sample and motion), so each look-alike
    candidate is matched against all samples at once: the session pass ran an IoU per sample
    and candidate in Python, 0.1 s per 10 minutes of samples and each of its four callers."""

    boxes: np.ndarray  # (M, 4)
    sample: np.ndarray  # (M,) sample index, ascending
    motion: np.ndarray  # (M,)
    start: np.ndarray  # (n,) first box of each sample
    count: np.ndarray  # (n,) boxes per sample

    @classmethod
    def of(cls, samples: list[tuple[np.ndarray, np.ndarray]]) -> _Flat:
        count = np.array([len(b) for b, _ in samples], np.int64)
        boxes = np.concatenate([b.reshape(-1, 4) for b, _ in samples]).astype(np.float64)
        motion = np.concatenate([m.reshape(-1) for _, m in samples]).astype(np.float64)
        sample = np.repeat(np.arange(len(samples)), count)
        start = np.concatenate([[0], np.cumsum(count)[:-1]])
        return cls(boxes, sample, motion, start, count)

    def matches(self, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Samples whose best box (highest IoU, the first on ties) matches ``ref``, and those
        boxes' indices."""
        iou = _iou(ref, self.boxes)
        if not len(iou):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        order = np.lexsort((np.arange(len(iou)), -iou, self.sample))
        first = np.flatnonzero(np.r_[True, np.diff(self.sample[order]) != 0])
        best = order[first]
        keep = iou[best] >= MATCH_IOU
        return self.sample[best][keep], best[keep]

    def covered(self, idx: np.ndarray) -> np.ndarray:
        """Per box in ``idx``: another box of its sample covers ``OVERLAP`` of it."""
        if not len(idx):
            return np.zeros(0, bool)
        per = self.count[self.sample[idx]]
        owner = np.repeat(np.arange(len(idx)), per)
        offset = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)
        other = np.repeat(self.start[self.sample[idx]], per) + offset
        mine = idx[owner]
        a, b = self.boxes[mine], self.boxes[other]
        x1, y1 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
        x2, y2 = np.minimum(a[:, 2], b[:, 2]), np.minimum(a[:, 3], b[:, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        area = np.maximum((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), 1e-9)
        hit = (inter / area >= OVERLAP) & (other != mine)
        return np.bincount(owner[hit], minlength=len(idx)) > 0


_recent: list[tuple[pa.ChunkedArray, LookalikeTest, list, list[Lookalike]]] = []
RECENT = 4


def _lookalikes_of(column: pa.ChunkedArray, lim: LookalikeTest) -> tuple[list, list[Lookalike]]:
    """``samples_of`` and ``find_lookalikes`` of a session's ``person_boxes``, remembered for
    the last few sessions: the people, head-count and plan checks each ask for the same one."""
    for seen, seen_lim, samples, found in _recent:
        if seen_lim == lim and seen.equals(column):
            return samples, list(found)
    samples = samples_of(column.to_pylist())
    found = find_lookalikes(samples, lim)
    _recent.insert(0, (column, lim, samples, found))
    del _recent[RECENT:]
    return samples, list(found)
    samples = samples_of(column.to_pylist())
    found = find_lookalikes(samples)
    _recent.insert(0, (column, samples, found))
    del _recent[RECENT:]
    return samples, list(found)


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
    samples, found = _lookalikes_of(timeline.column("person_boxes"), lim)
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
