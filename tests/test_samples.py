"""The synthetic exam centre (`examaudit samples`): files, schedule, ground truth and the
injected faults checked on the encoded video itself, plus people that a real detector sees.

Uses the session-wide ``sample_centre`` fixture (tests/conftest.py: one CLI run per test
session); the determinism test regenerates a few sessions in-process.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import av
import cv2
import numpy as np
import pytest

from pipeline.checks.registry import kinds as registered_kinds
from pipeline.inputs.config import load_site
from pipeline.inputs.schedule import load_schedule
from pipeline.records import EVENT_KINDS

NAME = re.compile(r"^(?P<camera>[^_]+)_(?P<start>\d{8}T\d{6})\.mp4$")
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def truth(sample_centre: Path) -> dict:
    return json.loads((sample_centre / "ground_truth.json").read_text(encoding="utf-8"))


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _finding(truth: dict, kind: str, session_id: str | None = None) -> dict:
    found = [
        f
        for f in truth["findings"]
        if f["kind"] == kind and (session_id is None or f["session_id"] == session_id)
    ]
    assert len(found) == 1, f"expected one {kind} in {session_id}, got {found}"
    return found[0]


def _file_start(path: Path) -> datetime:
    m = NAME.match(path.name)
    assert m, path.name
    return datetime.strptime(m["start"], "%Y%m%dT%H%M%S").replace(tzinfo=TZ).astimezone(UTC)


def _packets(path: Path) -> list[tuple[float, bool]]:
    """(pts seconds, keyframe) of every video packet: a packet pass, no decoding."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        return [
            (float(p.pts * p.time_base), p.is_keyframe)
            for p in c.demux(stream)
            if p.size and p.pts is not None
        ]


def _frames_at(path: Path, offsets: list[float], width: int | None = None) -> list[np.ndarray]:
    """Decoded BGR frames at the given file offsets (seconds), scaled by FFmpeg, in the
    order asked for."""
    got: dict[float, np.ndarray] = {}
    wanted = sorted(set(offsets))
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            while wanted and frame.time >= wanted[0] - 1e-6:
                w = width or frame.width
                h = round(frame.height * w / frame.width)
                got[wanted.pop(0)] = frame.reformat(width=w, height=h, format="bgr24").to_ndarray()
            if not wanted:
                break
    assert not wanted, f"{path.name}: no frames at {wanted}"
    return [got[o] for o in offsets]


def _mask_clock(image: np.ndarray, region: tuple[float, float, float, float]) -> np.ndarray:
    x, y, w, h = region
    H, W = image.shape[:2]
    out = image.astype(np.float32)
    out[: int((y + h) * H) + 2, : int((x + w) * W) + 2] = 0
    return out


# --- the set as a whole --------------------------------------------------------------------


def test_schedule_and_site_load_with_the_pipeline_parsers(sample_centre: Path) -> None:
    sessions = load_schedule(sample_centre / "schedule.csv")
    site = load_site(sample_centre / "site.toml")
    assert site.timezone == "Asia/Shanghai"
    assert {s.exam_type for s in sessions} == {"theory", "practical"}
    assert len({s.camera_id for s in sessions}) >= 3
    assert all(s.camera_id in site.cameras for s in sessions)
    assert all(site.cameras[s.camera_id].clock_region for s in sessions)
    practical = {s.camera_id for s in sessions if s.exam_type == "practical"}
    assert all(site.cameras[c].station_zone for c in practical)
    assert site.rules.min_proctor_absence_s <= 60 and site.rules.min_station_idle_s <= 120


def test_ground_truth_follows_the_conventions(sample_centre: Path, truth: dict) -> None:
    scheduled = {
        r["session_id"]: r for r in csv.DictReader((sample_centre / "schedule.csv").open())
    }
    assert truth["seed"] == 0 and truth["generator_version"]
    assert set(truth["sessions"]) == set(scheduled)
    kinds = {f["kind"] for f in truth["findings"]}
    assert kinds <= set(registered_kinds())
    # every fault the issues ask for is injected
    assert kinds >= set(EVENT_KINDS) - {"file_unreadable"}
    for f in truth["findings"]:
        start, end = _t(f["start"]), _t(f["end"])
        assert f["start"].endswith("+00:00") and start <= end
        if f["source_file"] is not None:
            assert (sample_centre / f["source_file"]).is_file(), f
        if f["session_id"] is None:
            assert f["kind"] in ("format_noncompliant", "file_unreadable", "unscheduled_activity")
            continue
        row = scheduled[f["session_id"]]
        assert f["camera_id"] == row["camera_id"]
        assert _t(row["scheduled_start"]) <= start and end <= _t(row["scheduled_end"]), f
    dirty = {f["session_id"] for f in truth["findings"]}
    assert truth["clean_sessions"] and not dirty & set(truth["clean_sessions"])
    assert {scheduled[s]["exam_type"] for s in truth["clean_sessions"]} == {"theory", "practical"}


def test_file_names_and_spans_match_the_schedule(sample_centre: Path, truth: dict) -> None:
    scheduled = {
        r["session_id"]: r for r in csv.DictReader((sample_centre / "schedule.csv").open())
    }
    files = sorted(sample_centre.glob("*.mp4"))
    listed = [name for facts in truth["sessions"].values() for name in facts["files"]]
    unplanned = [name for facts in truth["unplanned"].values() for name in facts["files"]]
    assert unplanned  # an exam recorded outside the plan (issue 16)
    assert sorted(p.name for p in files) == sorted(listed + unplanned)
    for sid, facts in truth["sessions"].items():
        row = scheduled[sid]
        if not facts["files"]:
            assert _finding(truth, "recording_missing", sid)
        for name in facts["files"]:
            path = sample_centre / name
            assert NAME.match(name)["camera"] == row["camera_id"]
            start = _file_start(path)
            with av.open(str(path)) as c:
                duration = c.duration / 1e6
                assert c.metadata["creation_time"].startswith(start.strftime("%Y-%m-%dT%H:%M:%S"))
            assert _t(row["scheduled_start"]) <= start
            assert start + timedelta(seconds=duration) <= _t(row["scheduled_end"]) + timedelta(
                seconds=1
            )
    # a late start and an early stop are visible in the file spans
    late = _finding(truth, "recording_gap", "S04")
    assert _file_start(sample_centre / truth["sessions"]["S04"]["files"][0]) == _t(late["end"])
    early = _finding(truth, "recording_gap", "S05")
    path = sample_centre / truth["sessions"]["S05"]["files"][0]
    last = _packets(path)[-1][0] + 1 / 15
    assert (
        abs((_file_start(path) + timedelta(seconds=last) - _t(early["start"])).total_seconds())
        < 0.1
    )
    # a gap between two segments
    gap = _finding(truth, "recording_gap", "S02")
    first, second = (sample_centre / n for n in truth["sessions"]["S02"]["files"])
    end_first = _file_start(first) + timedelta(seconds=_packets(first)[-1][0] + 1 / 15)
    assert abs((end_first - _t(gap["start"])).total_seconds()) < 0.1
    assert _file_start(second) == _t(gap["end"])


def test_encoding_is_nvr_like_and_the_set_is_small(sample_centre: Path) -> None:
    files = sorted(sample_centre.glob("*.mp4"))
    total = sum(p.stat().st_size for p in sample_centre.iterdir())
    assert total < 15 * 1024 * 1024, f"sample set is {total / 2**20:.1f} MiB"
    for path in files:
        with av.open(str(path)) as c:
            stream = c.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert stream.codec_context.pix_fmt == "yuv420p"
            assert stream.average_rate is not None
        packets = _packets(path)
        keys = [t for t, k in packets if k]
        steps = {round(b - a, 3) for a, b in itertools.pairwise(keys)}
        # constant 2 s GOP (a PTS jump inside a file lengthens one step)
        assert steps <= {2.0} or path.name == "cam01_20220315T082000.mp4", (path.name, steps)


def test_low_resolution_camera_breaks_the_site_rule(sample_centre: Path, truth: dict) -> None:
    site = load_site(sample_centre / "site.toml")
    heights = {}
    for path in sample_centre.glob("*.mp4"):
        with av.open(str(path)) as c:
            heights[path.name] = c.streams.video[0].codec_context.height
    low = {n for n, h in heights.items() if h < site.rules.min_height}
    assert low and all(n.startswith("cam03_") for n in low)
    flagged = {f["source_file"] for f in truth["findings"] if f["kind"] == "format_noncompliant"}
    assert flagged == low


def test_pts_jump_is_in_the_packets(sample_centre: Path, truth: dict) -> None:
    jump = next(f for f in truth["findings"] if "timestamp jump" in f["detail"])
    path = sample_centre / jump["source_file"]
    start = _file_start(path)
    pts = [t for t, _ in _packets(path)]
    steps = np.diff(pts)
    big = np.nonzero(steps > 0.5)[0]
    assert len(big) == 1
    i = int(big[0])
    gap_start = start + timedelta(seconds=pts[i] + 1 / 15)
    gap_end = start + timedelta(seconds=pts[i + 1])
    assert abs((gap_start - _t(jump["start"])).total_seconds()) < 0.1
    assert abs((gap_end - _t(jump["end"])).total_seconds()) < 0.1
    # every other file has a continuous timeline
    for other in sample_centre.glob("*.mp4"):
        if other != path:
            assert np.diff([t for t, _ in _packets(other)]).max() < 0.1, other.name


# --- picture faults, checked on decoded frames ----------------------------------------------


def _offset(truth: dict, finding: dict, key: str = "start") -> float:
    return (_t(finding[key]) - _file_start(Path(finding["source_file"]))).total_seconds()


def test_black_frozen_and_looped_footage_are_in_the_pixels(
    sample_centre: Path, truth: dict
) -> None:
    site = load_site(sample_centre / "site.toml")
    region = site.cameras["cam04"].clock_region
    black = _finding(truth, "black_screen")
    a = _offset(truth, black)
    inside, outside = _frames_at(sample_centre / black["source_file"], [a + 5, a - 5])
    assert _mask_clock(inside, region).mean() < 25 < _mask_clock(outside, region).mean()

    frozen = _finding(truth, "frozen_video")
    a, b = _offset(truth, frozen), _offset(truth, frozen, "end")
    f1, f2, c1, c2 = (
        _mask_clock(f, region)
        for f in _frames_at(sample_centre / frozen["source_file"], [a + 2, b - 4, a - 12, a - 4])
    )
    assert np.abs(f1 - f2).mean() < 0.1  # same decoded picture, no noise
    assert np.abs(c1 - c2).mean() > 0.5  # sensor noise and drift before it

    loop = _finding(truth, "looped_footage", "S13")
    a = _offset(truth, loop)
    src = a - 80  # Loop(src_s=20, at_s=100): footage of 20-50 s repeats at 100-130 s
    r1, s1, other = (
        _mask_clock(f, region)
        for f in _frames_at(sample_centre / loop["source_file"], [a + 10, src + 10, a - 20])
    )
    assert np.abs(r1 - s1).mean() < 0.5
    assert np.abs(r1 - other).mean() > 1.0


def test_reused_recording_repeats_another_session(sample_centre: Path, truth: dict) -> None:
    reuse = _finding(truth, "looped_footage", "S14")
    source = truth["sessions"][truth["sessions"]["S14"]["reused_from"]]["files"][0]
    region = load_site(sample_centre / "site.toml").cameras["cam04"].clock_region
    a = _frames_at(sample_centre / reuse["source_file"], [30.0, 90.0])
    b = _frames_at(sample_centre / source, [30.0, 90.0])
    for x, y in zip(a, b, strict=True):
        assert np.abs(_mask_clock(x, region) - _mask_clock(y, region)).mean() < 0.5


def test_turned_camera_shifts_the_view(sample_centre: Path, truth: dict) -> None:
    turned = _finding(truth, "view_changed")
    a, b = _offset(truth, turned), _offset(truth, turned, "end")
    before, during, after = _frames_at(
        sample_centre / turned["source_file"], [a - 6, a + 10, b + 6]
    )
    gray = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)[60:] for f in (before, during, after)]
    assert np.abs(gray[0].astype(float) - gray[1]).mean() > 8
    assert (
        np.abs(gray[0].astype(float) - gray[2]).mean()
        < np.abs(gray[0].astype(float) - gray[1]).mean() / 2
    )


def test_burned_in_clock_reads_and_jumps(sample_centre: Path, truth: dict) -> None:
    """OCR (rapidocr, models inside the wheel) reads the clock at analysis width 320."""
    from rapidocr_onnxruntime import RapidOCR

    ocr = RapidOCR()
    region = load_site(sample_centre / "site.toml").cameras["cam04"].clock_region
    cut = _finding(truth, "clock_jump")
    path = sample_centre / cut["source_file"]
    a = _offset(truth, cut)
    for offset, expected_shift in ((a - 10, 0), (a + 10, 120)):
        (frame,) = _frames_at(path, [offset], width=320)
        x, y, w, h = region
        H, W = frame.shape[:2]
        crop = frame[int(y * H) : int((y + h) * H) + 2, int(x * W) : int((x + w) * W) + 2]
        result, _ = ocr(crop)
        text = "".join(r[1] for r in result or [])
        m = re.search(r"(\d\d):(\d\d):(\d\d)", text)
        assert m, f"clock not readable: {text!r}"
        wall = _file_start(path).astimezone(TZ) + timedelta(seconds=offset + expected_shift)
        assert m.group(0) == wall.strftime("%H:%M:%S"), (text, offset)


# --- people ----------------------------------------------------------------------------------


def _hog_boxes(hog: cv2.HOGDescriptor, image: np.ndarray) -> list[tuple[int, int, int, int]]:
    boxes, _ = hog.detectMultiScale(image, winStride=(8, 8), padding=(8, 8), scale=1.05)
    return [tuple(int(v) for v in b) for b in boxes]


def test_hog_sees_the_composited_people(sample_centre: Path, truth: dict) -> None:
    """OpenCV's default people detector (64x128 HOG) finds the proctor in the proctor zone on
    frames of a clean session at analysis width 640, and nobody in the empty room."""
    site = load_site(sample_centre / "site.toml")
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    offsets = [float(t) for t in range(4, 180, 12)]

    def zone_hits(session: str) -> tuple[int, int]:
        cam = truth["sessions"][session]["camera_id"]
        zone = np.array(site.cameras[cam].proctor_zone, np.float32).reshape(-1, 1, 2)
        frames = _frames_at(sample_centre / truth["sessions"][session]["files"][0], offsets, 640)
        hits = 0
        for frame in frames:
            H, W = frame.shape[:2]
            anchors = [((x + w / 2) / W, (y + h) / H) for x, y, w, h in _hog_boxes(hog, frame)]
            hits += any(cv2.pointPolygonTest(zone, p, False) >= 0 for p in anchors)
        return hits, len(frames)

    # HOG finds standing people only: the invigilator seated behind the desk is the default
    # detector's to find (issue 13; tests/test_samples_e2e.py)
    standing = [
        s
        for s in truth["clean_sessions"]
        if truth["sessions"][s]["people_script"] != "proctor_seated"
    ]
    assert len(standing) >= 2
    for session in standing:
        hits, n = zone_hits(session)
        assert hits / n >= 0.8, f"{session}: proctor detected in the zone on {hits}/{n} frames"
    empty = next(s for s, f in truth["sessions"].items() if not f["people"])
    frames = _frames_at(sample_centre / truth["sessions"][empty]["files"][0], offsets[::3], 640)
    assert all(not _hog_boxes(hog, f) for f in frames)


def test_people_findings_follow_the_paths(truth: dict) -> None:
    absent = _finding(truth, "proctor_absent", "S17")
    assert 40 <= (_t(absent["end"]) - _t(absent["start"])).total_seconds() <= 120
    short = _finding(truth, "proctor_understaffed")
    facts = truth["sessions"][short["session_id"]]
    assert (facts["proctors_required"], facts["proctors_present"]) == (2, 1)
    count = _finding(truth, "candidate_count_mismatch", short["session_id"])
    assert truth["sessions"][count["session_id"]]["candidates_present"] == 2
    seated = [s for s, f in truth["sessions"].items() if f["people_script"] == "proctor_seated"]
    assert seated and set(seated) <= set(truth["clean_sessions"])
    qa = _finding(truth, "qa_substitution")
    assert truth["sessions"][qa["session_id"]]["exam_type"] == "practical"
    assert (_t(qa["end"]) - _t(qa["start"])).total_seconds() >= truth["rules"]["min_station_idle_s"]


def test_people_asset_is_compact_and_attributed() -> None:
    from pipeline.samples.cutouts import ASSET_DIR, load_people

    size = sum(p.stat().st_size for p in ASSET_DIR.iterdir())
    assert size < 3 * 1024 * 1024
    assert "CC BY-NC-SA 3.0" in (ASSET_DIR / "ATTRIBUTION.md").read_text(encoding="utf-8")
    people = load_people()
    assert len(people) >= 3
    for person in people:
        assert len(person.frames) >= 16
        alpha = person.frames[person.stand][..., 3]
        assert 0.2 < (alpha > 128).mean() < 0.8  # a person-shaped matte, not a box or nothing


def test_cutout_matches_the_ground_truth_box(real_data: Path) -> None:
    """Rebuilding from the real clip: the matte covers the person inside the MOT box."""
    from pipeline.samples.cutouts import _background, _clean_frames, _cutout, _read_clip

    frames = _read_clip(real_data / "TUD-Campus.mp4")
    boxes = np.loadtxt(real_data / "TUD-Campus.gt.txt", delimiter=",")
    plate = _background(frames, boxes, max_frames=24)
    index, box = _clean_frames(boxes, 1, (640, 480))[0]
    cut = _cutout(frames[index], plate, box)
    assert 0.8 * box[3] <= cut.shape[0] <= 1.1 * box[3]
    assert 0.3 < (cut[..., 3] > 128).mean() < 0.85


# --- determinism -----------------------------------------------------------------------------


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_gives_the_same_centre(sample_centre: Path, truth: dict, tmp_path: Path) -> None:
    from pipeline.samples import generate

    out = generate(tmp_path / "again", 0, sessions=["S03", "S09"])
    again = json.loads((out / "ground_truth.json").read_text(encoding="utf-8"))
    assert again == truth
    assert (out / "schedule.csv").read_bytes() == (sample_centre / "schedule.csv").read_bytes()
    assert (out / "site.toml").read_bytes() == (sample_centre / "site.toml").read_bytes()
    names = sorted(p.name for p in out.glob("*.mp4"))
    assert names == sorted(truth["sessions"]["S03"]["files"] + truth["sessions"]["S09"]["files"])
    for name in names:
        assert _sha(out / name) == _sha(sample_centre / name), name
    other = json.loads(
        (generate(tmp_path / "seed1", 1, sessions=[]) / "ground_truth.json").read_text()
    )
    assert other["seed"] == 1
