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

from benchmarks.reuse_media import Case, Export, analyse, build

COPIES = {
    "issue": Export(scale=0.71, brightness=1.06, crf=33),
    "combined": Export(
        scale=0.71,
        brightness=1.06,
        contrast=1.1,
        gamma=1.2,
        crf=33,
        codec="libx265",
        fps=10,
        retime_s=0.3,
        crop=0.05,
    ),
}
NEGATIVES = {
    "other_people": Case("other_people", negative="other_people"),
    "empty_vs_occupied": Case("empty", negative="empty"),
    "two_cameras": Case("two_cameras", negative="two_cameras"),
    "other_people_exported": Case(
        "other_px", negative="other_people_export", extra={"scale": 0.71, "crf": 33}
    ),
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
