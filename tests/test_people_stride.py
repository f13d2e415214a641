"""People coarse to fine (issue 14): the detector sees a fraction of the samples, and every
zone count it writes is the one it would have written seeing all of them."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.detectors import Detections
from pipeline.inputs.config import Analysis, Camera, Rules
from pipeline.media.frames import FrameBatch
from pipeline.signals import AnalysisContext
from pipeline.signals.people import PeopleSignals, people_stride

PROCTOR = ((0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0))
IN_ZONE = (0.1, 0.6, 0.3, 0.9)  # a person whose feet are in the proctor zone
IN_ZONE_2 = (0.25, 0.55, 0.45, 0.95)  # a second one there
OUTSIDE = (0.6, 0.1, 0.8, 0.4)


class MarkedDetector:
    """Reads who is in a frame from its first pixels (channel 0: proctor, 1: someone else,
    2: a second proctor) and counts the frames it was shown."""

    name = "marked"

    def __init__(self) -> None:
        self.frames_seen = 0

    def detect(self, frames: np.ndarray) -> list[Detections]:
        self.frames_seen += len(frames)
        out = []
        for f in frames:
            marks = ((IN_ZONE, f[0, 0, 0]), (OUTSIDE, f[0, 0, 1]), (IN_ZONE_2, f[0, 0, 2]))
            boxes = [b for b, on in marks if on]
            arr = np.array(boxes, np.float32).reshape(-1, 4)
            out.append(Detections(arr, np.full(len(arr), 0.9), np.zeros(len(arr))))
        return out


def batch(proctor: list[bool], other: list[bool], second: list[bool] | None = None) -> FrameBatch:
    frames = np.zeros((len(proctor), 24, 32, 3), np.uint8)
    frames[:, 0, 0, 0] = proctor
    frames[:, 0, 0, 1] = other
    if second is not None:
        frames[:, 0, 0, 2] = second
    return FrameBatch("f.mp4", np.arange(len(proctor)) * 2.0, frames, (32, 24))


def ctx(detector, **analysis) -> AnalysisContext:
    return AnalysisContext(
        camera=Camera("cam", proctor_zone=PROCTOR),
        rules=Rules(min_proctor_absence_s=60.0, min_station_idle_s=300.0),
        analysis=Analysis(sample_every_s=2.0, **analysis),
        detector=detector,
    )


def test_stride_is_a_quarter_of_the_shortest_people_rule():
    c = ctx(None)
    assert people_stride(c, 1000) == 7  # 60 s / 4 = 15 s at 2 s samples
    assert people_stride(ctx(None, people_every_s=2.0), 1000) == 1
    assert people_stride(c, 3) == 3  # never more than the chunk


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coarse_to_fine_counts_equal_detecting_every_sample(seed):
    rng = np.random.default_rng(seed)
    n = 150
    proctor = np.ones(n, bool)
    for _ in range(3):  # absences of 10-40 samples
        a = int(rng.integers(0, n - 40))
        proctor[a : a + int(rng.integers(10, 40))] = False
    other = rng.random(n) < 0.5  # someone outside the zone, flickering: not a state change
    fine_det, coarse_det = MarkedDetector(), MarkedDetector()
    full = PeopleSignals()(batch(list(proctor), list(other)), ctx(fine_det, people_every_s=2.0))
    fast = PeopleSignals()(batch(list(proctor), list(other)), ctx(coarse_det))
    assert fine_det.frames_seen == n
    np.testing.assert_array_equal(fast["persons_in_proctor_zone"], proctor.astype(np.int16))
    np.testing.assert_array_equal(fast["persons_in_proctor_zone"], full["persons_in_proctor_zone"])
    # each change of state costs the samples between two coarse ones; the rest is skipped
    assert coarse_det.frames_seen < 0.6 * n, coarse_det.frames_seen
    seen = fast["people_detected"]
    assert seen[0] and seen[-1] and seen.sum() == coarse_det.frames_seen


def test_a_change_between_coarse_samples_is_placed_to_the_sample():
    proctor = [True] * 30 + [False] * 41 + [True] * 29  # leaves at 30, back at 71
    det = MarkedDetector()
    out = PeopleSignals()(batch(proctor, [False] * 100), ctx(det))
    zone = out["persons_in_proctor_zone"]
    assert zone[29] == 1 and zone[30] == 0 and zone[70] == 0 and zone[71] == 1
    # 16 coarse samples (every 7th and the last), then bisection: 3 runs at most per change
    # between coarse samples 7 apart (looking at each of the 6 between would take 6)
    assert det.frames_seen <= 16 + 2 * 3, det.frames_seen


def test_two_changes_between_coarse_samples_are_both_placed():
    """Two proctors, then one (from 30), then none (from 33): one coarse span (28-35) holds
    both changes; the bisection follows each half whose ends differ."""
    n = 60
    first = [True] * 33 + [False] * (n - 33)
    second = [True] * 30 + [False] * (n - 30)
    det = MarkedDetector()
    out = PeopleSignals()(batch(first, [False] * n, second), ctx(det))
    expected = np.array(first, np.int16) + np.array(second, np.int16)
    np.testing.assert_array_equal(out["persons_in_proctor_zone"], expected)
    assert det.frames_seen < n // 2, det.frames_seen
