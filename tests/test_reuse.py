"""Re-used footage after an export (issue 18), on footage built from the real MOT15 clips.

A 36 s session of a real room (TUD-Stadtmitte's plate) with real people walking; 28 s of it
re-encoded as a forger would export it is filed for another room a week later. The copy must
be found over (nearly) its whole length with the transformation reported; the same room with
other people, the empty room, and a second camera of the same moment must give nothing.
The full matrix (every transformation alone) is benchmarks/bench_reuse.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_reuse import ALONE, NEGATIVE
from benchmarks.reuse_media import Case, analyse, build

# the matrix's own cases (benchmarks/bench_reuse.py), so test and benchmark cannot drift apart
COPIES = {
    "issue": ALONE["issue trial: 0.71, +6 %, CRF 33"],
    "combined": ALONE["all combined (H.265)"],
}
NEGATIVES = {
    "other_people": NEGATIVE["same room, other people"],
    "empty_vs_occupied": NEGATIVE["same room, empty vs occupied"],
    "two_cameras": NEGATIVE["two cameras of one room"],
    "other_people_exported": NEGATIVE["other people, exported (0.71, CRF 33)"],
}


@pytest.fixture(scope="module")
def work(tmp_path_factory, real_data: Path) -> tuple[Path, Path]:
    return real_data, tmp_path_factory.mktemp("reuse")


@pytest.mark.parametrize("name", sorted(COPIES))
def test_reencoded_copy_is_found(work, name):
    real, folder = work
    case = Case(name, COPIES[name])
    events, _, _ = analyse(build(case, real, folder))
    assert [e.session_id for e in events] == ["S2"], [e.details for e in events]
    loop = events[0]
    assert loop.duration_s >= case.copy_s - 3, loop.duration_s
    d = loop.details
    assert d["matched_file"] == "s1.mp4" and d["matched_session"] == "S1"
    # the copy starts 6 s (+ re-timing) into the original
    assert abs(d["matched_t_file_s"] - d["start_t_file_s"] - 6.0 - case.export.retime_s) <= 0.25
    tr = d["transform"]
    assert tr["motion_ncc"] >= 0.85
    assert tr["copy_fps"] == pytest.approx(case.export.fps, abs=0.5)
    if case.export.crop:
        assert 1.02 <= tr["scale"] <= 1.09, tr
    else:
        assert abs(tr["scale"] - 1.0) <= 0.02, tr
        assert tr["brightness_gain"] == pytest.approx(1.06, abs=0.04), tr


@pytest.mark.parametrize("name", sorted(NEGATIVES))
def test_same_room_other_footage_never_matches(work, name):
    real, folder = work
    events, nominated, _ = analyse(build(NEGATIVES[name], real, folder))
    assert events == [], [(e.session_id, e.duration_s, e.details) for e in events]
    assert len(nominated) <= 1  # the search itself stays tight


def test_motion_grid_ignores_brightness_and_a_still_room():
    """The grid is measured on normalised thumbnails: a brighter, contrastier, gamma-changed
    copy gives the same grid; sensor noise in a still room gives none."""
    import cv2
    import numpy as np

    from pipeline.signals.fingerprint import grid_thumb, motion_grid

    rng = np.random.default_rng(0)
    room = cv2.resize(rng.uniform(40, 200, (24, 32)), (320, 240)).astype(np.float32)
    a, b = room.copy(), room.copy()
    b[120:200, 200:240] = 30  # someone walks in, bottom right
    base = np.frombuffer(motion_grid(grid_thumb(b), grid_thumb(a)), np.uint8)

    def export(img):
        return np.clip(255 * (1.06 * img / 255) ** 0.8 * 1.1 - 10, 0, 255)

    copy = np.frombuffer(motion_grid(grid_thumb(export(b)), grid_thumb(export(a))), np.uint8)
    assert base.argmax() == copy.argmax() and base.max() == 255
    assert np.corrcoef(base.astype(float), copy.astype(float))[0, 1] > 0.95
    noisy = room + rng.normal(0, 2.5, room.shape)
    assert not any(motion_grid(grid_thumb(noisy), grid_thumb(room)))


def test_search_finds_planted_copies_in_look_alike_rooms():
    """Ten one-hour sessions per room, every room's people at the same seats: the planted
    re-encoded copies are found, and the search stays fast."""
    import time

    from benchmarks.bench_reuse import synthetic
    from pipeline.findings.loops import search

    u, moving, tf, file_rank, planted = synthetic(8, copies=3)
    t0 = time.perf_counter()
    spans = search(u, moving, tf, file_rank, 20.0)
    assert time.perf_counter() - t0 < 60
    pairs = list(zip(planted[::2], planted[1::2], strict=True))
    for pair in pairs:
        assert any(c0 < b and a <= c1 for c0, c1, *_ in spans for a, b in pair), pair
