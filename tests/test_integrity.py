"""Picture integrity end to end on generated footage with known faults, and on real clips.

Each clip goes through the real stages: probe -> plan_chunks -> sample_chunk -> analysers ->
timeline rows -> the registry's integrity checks -> their refinement. Boundaries must land
within +-2 s of the injected fault; clean footage (including a static empty room with sensor
noise and lighting drift) and the real clips must give no finding at all.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute
import pytest
from test_integrity_media import CLOCK_REGION, Shot, clock_script, write_clip

from pipeline.checks.registry import analysers_for
from pipeline.checks.runner import analyse_files, find_refined
from pipeline.inputs.config import Analysis, Camera, Rules, Site
from pipeline.records import Event

TZ = "Asia/Shanghai"
T0 = datetime(2022, 3, 15, 0, 30, tzinfo=UTC)  # 08:30 local
SITE = Site(
    timezone=TZ,
    rules=Rules(),
    analysis=Analysis(sample_every_s=2.0, width=320, chunk_s=60.0),
    cameras={
        "cam01": Camera("cam01", clock_region=CLOCK_REGION),
        "cam02": Camera("cam02"),
        "clk": Camera("clk", clock_region=CLOCK_REGION),
    },
)
INTEGRITY = ("black_screen", "frozen_video", "view_changed", "looped_footage", "clock_jump")


LOCAL0 = T0.astimezone(ZoneInfo(TZ)).replace(tzinfo=None)


def faults_script(t: float) -> Shot:
    """Black 20-28 s, frozen 45-60 s, camera turned 100-125 s, content 61-91 s again at 140.

    The NVR's clock keeps ticking over all of it, as a real NVR draws it after the camera.
    """
    clock = LOCAL0 + timedelta(seconds=int(t))
    if 20 <= t < 28:
        return Shot(t, black=True, clock=clock)
    if 45 <= t < 60:
        return Shot(t, frozen=True, clock=clock)
    if 100 <= t < 125:
        return Shot(t, view=1, clock=clock)
    if 140 <= t < 170:
        return Shot(t - 79, clock=clock)
    return Shot(t, clock=clock)


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("integrity")
    local = LOCAL0
    out = {
        "faults": write_clip(d / "faults.mp4", 176, faults_script, people=3),
        "people": write_clip(d / "people.mp4", 60, people=3, seed=1, drift=0.05),
        "empty": write_clip(d / "empty.mp4", 90, people=0, noise=2.5, drift=0.15, seed=2),
        "clock_cut": write_clip(
            d / "clock_cut.mp4",
            80,
            clock_script(local, cut_at=41.3, cut_s=120.0),
            size=(640, 360),
            people=2,
            seed=4,
        ),
        "clock_ok": write_clip(
            d / "clock_ok.mp4", 60, clock_script(local), size=(640, 360), people=2, seed=5
        ),
    }
    out["reused"] = d / "reused.mp4"
    shutil.copy(out["people"], out["reused"])
    out["empty_again"] = d / "empty_again.mp4"
    shutil.copy(out["empty"], out["empty_again"])
    # the same room (same seed) with people elsewhere: another session, not a copy
    out["people_later"] = write_clip(
        d / "people_later.mp4", 60, lambda t: Shot(t + 1000), people=3, seed=1, drift=0.05
    )
    return out


def analyse(files: list[tuple[Path, str, str, datetime]], site: Site = SITE):
    """(path, camera, session, start) per file -> (events after refinement, timeline): the
    registry's integrity checks and their analysers, as a scan runs them."""
    timeline, contexts, probes = analyse_files(files, site, analysers_for(("integrity",)))
    return find_refined(timeline, contexts, probes, site, ("integrity",)), timeline


def offsets(event: Event, start: datetime) -> tuple[float, float]:
    return (event.start - start).total_seconds(), (event.end - start).total_seconds()


def summary(events: list[Event], start: datetime) -> list[tuple[str, float, float]]:
    return [(e.kind, *(round(x, 1) for x in offsets(e, start))) for e in events]


def test_faults_found_with_boundaries(clips):
    events, _ = analyse([(clips["faults"], "cam01", "S1", T0)])
    got = summary(events, T0)
    expected = [
        ("black_screen", 20, 28),
        ("frozen_video", 45, 60),
        ("view_changed", 100, 125),
        ("looped_footage", 140, 170),
    ]
    assert len(events) == len(expected), got
    for kind, a, b in expected:
        match = [g for g in got if g[0] == kind]
        assert len(match) == 1, (kind, got)
        assert abs(match[0][1] - a) <= 2 and abs(match[0][2] - b) <= 2, (kind, got)
    loop = next(e for e in events if e.kind == "looped_footage")
    assert loop.details["matched_file"] == "faults.mp4"
    assert abs(loop.details["matched_t_file_s"] - 61) <= 2
    black = next(e for e in events if e.kind == "black_screen")
    assert black.details["mean_luma"] < 24
    # with 2 s samples the reported boundary is the midpoint between the samples around it
    for kind, a, b in expected[:3]:
        match = next(g for g in got if g[0] == kind)
        assert abs(match[1] - a) <= 1 and abs(match[2] - b) <= 1, (kind, got)


def test_sparse_samples_are_refined_around_each_boundary(clips):
    """Sampling every 6 s brackets each boundary by 6 s; decoding just the GOPs around it
    places it within a second (and a 8 s black run, seen by one sample, is kept)."""
    site = replace(SITE, analysis=Analysis(sample_every_s=6.0, width=320, chunk_s=60.0))
    events, timeline = analyse(
        [(clips["faults"], "cam01", "S1", T0), (clips["clock_cut"], "clk", "S2", T0)], site
    )
    assert timeline.num_rows < 60  # keyframes only, one in three
    got = {e.kind: e for e in events}
    expected = {
        "black_screen": (20, 28),
        "frozen_video": (45, 60),
        "view_changed": (100, 125),
        "clock_jump": (41.3, 80),
    }
    assert set(expected) <= set(got), summary(events, T0)
    for kind, (a, b) in expected.items():
        start, end = offsets(got[kind], T0)
        assert got[kind].details.get("refined"), kind
        assert abs(start - a) <= 1 and abs(end - b) <= 1, (kind, start, end)
    loops = [e for e in events if e.kind == "looped_footage"]
    assert all(abs(offsets(e, T0)[0] - 140) <= 2 for e in loops), summary(loops, T0)


def test_reused_recording_across_sessions(clips):
    start_b = T0 + timedelta(days=1)
    events, _ = analyse(
        [(clips["people"], "cam02", "S1", T0), (clips["reused"], "cam03", "S2", start_b)]
    )
    got = [(e.kind, e.session_id) for e in events]
    assert got == [("looped_footage", "S2")], summary(events, start_b)
    loop = events[0]
    a, b = offsets(loop, start_b)
    assert a <= 2 and b >= 58, (a, b)
    assert loop.details["matched_file"] == "people.mp4"
    assert loop.details["matched_session"] == "S1"


@pytest.mark.parametrize("first,second", [("empty", "empty_again"), ("people", "people_later")])
def test_same_room_in_two_sessions_is_not_a_loop(clips, first, second):
    """A static room repeats itself every day (even an identical copy of a still scene proves
    nothing), and the same room with people elsewhere is other footage."""
    events, _ = analyse(
        [(clips[first], "cam02", "S1", T0), (clips[second], "cam03", "S2", T0 + timedelta(days=1))]
    )
    assert events == [], summary(events, T0)


@pytest.mark.parametrize("chunk_s", [60.0, 30.0])
def test_clock_cut_found(clips, chunk_s):
    """With 60 s chunks the cut is bisected inside the chunk's reads; with 30 s chunks it
    falls between two chunks' reads and refinement bisects the keyframes in between."""
    site = replace(SITE, analysis=replace(SITE.analysis, chunk_s=chunk_s))
    events, timeline = analyse([(clips["clock_cut"], "clk", "S1", T0)], site)
    got = summary(events, T0)
    assert [g[0] for g in got] == ["clock_jump"], got
    assert abs(got[0][1] - 41.3) <= 2 and abs(got[0][2] - 80) <= 2, got  # ahead to the end
    assert abs(got[0][1] - 41.3) <= 1, got
    assert abs(events[0].details["jump_s"] - 120) <= 2
    read = pa.compute.sum(pa.compute.is_valid(timeline["clock_offset_s"])).as_py()
    assert 3 <= read < timeline.num_rows  # sparse OCR, not every sample


@pytest.mark.parametrize("name", ["people", "empty", "clock_ok"])
def test_clean_footage_has_no_findings(clips, name):
    camera = "clk" if name.startswith("clock") else "cam02"
    events, timeline = analyse([(clips[name], camera, "S1", T0)])
    assert events == [], summary(events, T0)
    if name == "clock_ok":
        offs = timeline["clock_offset_s"].drop_null().to_pylist()
        assert offs and all(abs(o) <= 1.5 for o in offs), offs


def test_file_time_altered(clips):
    """The file claims to start 30 s later than its burned-in clock shows: the whole file is
    one clock_jump, with the measured offset."""
    start = T0 + timedelta(seconds=30)
    events, _ = analyse([(clips["clock_ok"], "clk", "S1", start)])
    assert [e.kind for e in events] == ["clock_jump"], summary(events, start)
    a, b = offsets(events[0], start)
    assert a <= 1 and b >= 58, (a, b)
    assert abs(events[0].details["clock_offset_s"] + 30) <= 1.5


def test_clock_region_found_automatically(clips):
    site = replace(SITE, cameras={"clk": Camera("clk")})
    events, _timeline = analyse([(clips["clock_cut"], "clk", "S1", T0)], site)
    assert [e.kind for e in events] == ["clock_jump"], summary(events, T0)


def test_real_clips_have_no_findings(real_data):
    files = [
        (real_data / name, "cam02", f"S{i}", T0 + timedelta(hours=i))
        for i, name in enumerate(["TUD-Campus.mp4", "TUD-Stadtmitte.mp4"])
    ]
    # the clips last 3 s and 7 s: scale the minimum durations down so the tests still bite
    rules = Rules(min_black_s=1.0, min_frozen_s=1.5, min_view_changed_s=1.5, min_loop_s=2.0)
    site = replace(
        SITE, rules=rules, analysis=Analysis(sample_every_s=0.5, width=320, chunk_s=60.0)
    )
    events, timeline = analyse(files, site)
    assert timeline.num_rows > 10
    assert events == [], [(e.kind, e.session_id, e.details) for e in events]
