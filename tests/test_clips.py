"""Clips, thumbnails and contact sheets: a small generated recording and real footage."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from fixture import build_demo_evidence, encode_recording

from pipeline.inputs.config import Camera, Review, Site
from pipeline.media.cutter import cut_clip
from pipeline.records import Event
from pipeline.review import media
from pipeline.review.clips import (
    cut_event_media,
    cut_one,
    thumb_path,
)
from pipeline.review.sheets import write_contact_sheets

REAL = Path(__file__).parents[1] / ".." / "shared" / "data" / "real"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = build_demo_evidence(tmp_path_factory.mktemp("clips"))
    events = cut_event_media(d.events, d.probes, d.evidence, d.site)
    return d, {e.kind: e for e in events}


def _frames(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [(float(f.time), f.to_ndarray(format="bgr24")) for f in c.decode(s)]


def _atoms(path: Path) -> list[str]:
    """Top-level MP4 boxes in file order."""
    data, out, i = path.read_bytes(), [], 0
    while i + 8 <= len(data):
        size = int.from_bytes(data[i : i + 4], "big")
        out.append(data[i + 4 : i + 8].decode("latin-1"))
        if size < 8:
            break
        i += size
    return out


def test_short_event_clip_is_browser_ready_and_covers_the_window(demo):
    d, ev = demo
    e = ev["proctor_absent"]
    assert e.clip == f"clips/{e.event_id}.mp4" and e.thumb == f"thumbs/{e.event_id}.jpg"
    clip = d.evidence / e.clip
    atoms = _atoms(clip)
    assert atoms.index("moov") < atoms.index("mdat"), f"not faststart: {atoms}"
    with av.open(str(clip)) as c:
        v = c.streams.video[0]
        assert v.codec_context.name == "h264" and v.codec_context.format.name == "yuv420p"
        assert c.streams.audio and c.streams.audio[0].codec_context.name == "aac"
    frames = _frames(clip)
    # window: 5 s..9 s of the file with 2 s pre/post roll -> 3..11 s; copy starts at the
    # keyframe before 3 s (2 s), so the clip holds 2..11 s at 10 fps.
    duration = frames[-1][0] - frames[0][0]
    assert 8.5 <= duration <= 9.5, duration
    # the clip's first frame is the source frame at 2.0 s, its last the one at ~11 s
    probe = d.probes["cam01_20220315T083000.mp4"]
    first_src, last_src = media.grab_frames(probe.path, [2.0, 11.0], 640)
    assert np.abs(frames[0][1].astype(int) - first_src[1].astype(int)).mean() < 3
    assert np.abs(frames[-1][1].astype(int) - last_src[1].astype(int)).mean() < 3


def test_long_event_gets_head_and_tail(demo):
    d, ev = demo
    e = ev["black_screen"]  # 18 s > max_clip_s = 8 s
    head, tail = d.evidence / e.clip, d.evidence / f"clips/{e.event_id}_tail.mp4"
    assert head.exists() and tail.exists()
    probe = d.probes["cam01_20220315T083000.mp4"]
    # head: start (3 s) - 2 s pre-roll .. start + 4 s; tail: end (21 s) - 4 s .. end + 2 s
    h, t = _frames(head), _frames(tail)
    assert 5.5 <= h[-1][0] - h[0][0] <= 7.5
    src = media.grab_frames(probe.path, [7.0, 23.0], 640)
    assert np.abs(h[-1][1].astype(int) - src[0][1].astype(int)).mean() < 3
    assert np.abs(t[-1][1].astype(int) - src[1][1].astype(int)).mean() < 3


def test_no_video_findings_get_a_card_and_no_clip(demo):
    d, ev = demo
    for kind in ("recording_missing", "recording_gap", "file_unreadable"):
        e = ev[kind]
        assert e.clip is None, kind
        img = cv2.imread(str(d.evidence / e.thumb))
        assert img is not None and img.shape[1] >= 320, kind
    # the gap shows the last real frame before it (dimmed), not a generated card: the card's
    # background is flat grey 40, the dimmed picture keeps the scene's colour
    gap = cv2.imread(str(d.evidence / ev["recording_gap"].thumb))
    missing = cv2.imread(str(d.evidence / ev["recording_missing"].thumb))
    assert abs(float(missing[100:200, 300:400].mean()) - 40) < 15
    b, g, r = (float(gap[150:200, 400:470, k].mean()) for k in range(3))
    assert r > b + 5 and g > b, (b, g, r)  # scene background is (90,110,120) BGR, dimmed


def test_thumbnail_draws_the_zones(demo):
    d, ev = demo
    img = cv2.imread(str(d.evidence / ev["proctor_absent"].thumb))
    h = img.shape[0] - 44  # caption band of two lines
    w = img.shape[1]
    # proctor zone right edge at x = 0.45 w is drawn in red (BGR ~ (60,60,230))
    column = img[h // 4 : 3 * h // 4, int(0.45 * (w - 1)) - 1 : int(0.45 * (w - 1)) + 2].reshape(
        -1, 3
    )
    red = (column[:, 2] > 170) & (column[:, 0] < 120) & (column[:, 1] < 120)
    assert red.mean() > 0.5
    # station zone left edge at x = 0.55 w in blue (BGR ~ (230,150,40)) between y 0.35..0.95
    column = img[
        int(0.5 * h) : int(0.9 * h), int(0.55 * (w - 1)) - 1 : int(0.55 * (w - 1)) + 2
    ].reshape(-1, 3)
    blue = (column[:, 0] > 170) & (column[:, 2] < 120)
    assert blue.mean() > 0.5


def test_rerun_reuses_outputs_and_leaves_no_temp_files(demo):
    d, ev = demo
    paths = sorted((d.evidence / "clips").iterdir()) + sorted((d.evidence / "thumbs").iterdir())
    before = {p: p.stat().st_mtime_ns for p in paths}
    again = cut_event_media(d.events, d.probes, d.evidence, d.site)
    assert {e.kind: (e.clip, e.thumb) for e in again} == {
        k: (e.clip, e.thumb) for k, e in ev.items()
    }
    assert {p: p.stat().st_mtime_ns for p in paths} == before
    assert not [p for p in paths if p.name.startswith(".")]
    assert all(oct(p.stat().st_mode & 0o777) == oct(0o666 & ~_umask()) for p in paths)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_contact_sheets_one_per_session(demo):
    d, _ = demo
    out = write_contact_sheets(d.sessions, d.probes, d.evidence, d.site)
    assert set(out) == {"S01", "S02"}
    sheet = cv2.imread(str(d.evidence / out["S01"]))
    # 12 tiles in 4 columns of 320 px source frames
    assert sheet.shape[1] == 4 * 320 and sheet.shape[0] > 3 * 240
    # S01 is recorded for its first 24 of 40 s: the first tile row is video (not flat grey)
    assert float(sheet[40:200, 0:320].std()) > 10
    empty = cv2.imread(str(d.evidence / out["S02"]))
    assert empty is not None


def test_keyframes_too_far_apart_reencode_the_window(tmp_path):
    src = encode_recording(tmp_path / "longgop.mp4", seconds=12, gop=100, audio=False)
    with av.open(str(src)) as c:
        keys = [float(p.pts * p.time_base) for p in c.demux(video=0) if p.is_keyframe]
    assert keys[:2] == [0.0, 10.0]
    res = cut_clip(src, 6.0, 9.0, tmp_path / "out.mp4", keys, max_lead_s=2.0)
    assert res.mode == "encode"
    frames = _frames(tmp_path / "out.mp4")
    assert 29 <= len(frames) <= 31
    first_src = media.grab_frames(src, [6.0], 640)[0]
    assert np.abs(frames[0][1].astype(int) - first_src[1].astype(int)).mean() < 6
    assert _atoms(tmp_path / "out.mp4").index("moov") < _atoms(tmp_path / "out.mp4").index("mdat")


def test_long_gop_head_is_reencoded_and_the_rest_copied(tmp_path):
    """Splice: B-frame source, keyframes 5 s apart, window starting 1.7 s after one."""
    src = encode_recording(tmp_path / "bgop.mp4", seconds=14, gop=50, audio=True, bframes=2)
    with av.open(str(src)) as c:
        assert c.streams.video[0].codec_context.has_b_frames
        keys = [float(p.pts * p.time_base) for p in c.demux(video=0) if p.is_keyframe]
    assert keys[:3] == [0.0, 5.0, 10.0]
    out = tmp_path / "splice.mp4"
    res = cut_clip(src, 3.3, 12.0, out, keys, max_lead_s=1.0)
    assert res.mode == "splice"
    frames = _frames(out)
    # 3.3 .. 12.0 s at 10 fps (88 frames), every frame once; past the window's end the cut in
    # decode order may keep a reference frame whose B-frames fall outside (one frame skipped)
    assert len(frames) == res.frames and 88 <= len(frames) <= 91
    times = [t - frames[0][0] for t, _ in frames]
    inside = [t for t in times if t <= 12.0 - 3.3 + 1e-3]
    assert len(inside) == 88 and np.allclose(np.diff(inside), 0.1, atol=1e-3)
    offsets = [3.3 + (t - frames[0][0]) for t, _ in frames]
    src_frames = media.grab_frames(src, offsets, 640)
    for (t, got), (_, want) in zip(frames, src_frames, strict=True):
        diff = np.abs(got.astype(int) - want.astype(int)).mean()
        if t - frames[0][0] < 5.0 - 3.3 - 1e-3:
            assert diff < 3, (t, diff)  # re-encoded head: close
        else:
            assert diff == 0, (t, diff)  # copied GOPs: bit-exact pictures
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.name == "aac"
    assert _atoms(out).index("moov") < _atoms(out).index("mdat")


def test_real_footage_mpeg4_is_reencoded_and_thumbnail_shows_people(tmp_path):
    video = REAL / "TUD-Stadtmitte.mp4"
    if not video.exists():
        pytest.skip(f"real footage not found at {REAL}")
    from pipeline.media.probe import probe_file

    try:
        from pipeline.detectors import make_detector

        detector = make_detector("hog")
    except ImportError:
        from pipeline.detectors.hog import HogDetector

        detector = HogDetector()
    start = datetime(2022, 3, 15, 1, 0, tzinfo=UTC)
    probe = probe_file(video, "camR", start)
    assert probe.codec == "mpeg4" and probe.error is None
    site = Site(
        review=Review(pre_roll_s=1.0, post_roll_s=1.0, max_clip_s=30.0),
        cameras={
            "camR": Camera("camR", proctor_zone=((0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)))
        },
    )
    event = Event(
        "proctor_absent",
        "camR",
        start + timedelta(seconds=2),
        start + timedelta(seconds=5),
        "S9",
        0.7,
        {},
        video.name,
    )
    out = cut_one(event, {video.name: probe}, tmp_path, site, detector)
    with av.open(str(tmp_path / out.clip)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        n = sum(1 for _ in c.decode(video=0))
    assert 5 * 25 - 3 <= n <= 5 * 25 + 3  # 1..6 s at 25 fps
    thumb = cv2.imread(str(tmp_path / out.thumb))
    green = (thumb[..., 1] > 190) & (thumb[..., 0] < 110) & (thumb[..., 2] < 110)
    assert green.sum() > 200, "no person boxes drawn on real footage"


def test_unreadable_source_gives_a_card_not_a_crash(tmp_path):
    bad = tmp_path / "cam01_20220315T083000.mp4"
    bad.write_bytes(b"\x00" * 1000)
    from pipeline.media.probe import probe_file

    start = datetime(2022, 3, 15, tzinfo=UTC)
    probe = probe_file(bad, "cam01", start)
    event = Event(
        "black_screen", "cam01", start, start + timedelta(seconds=5), "S1", source_file=bad.name
    )
    out = cut_one(event, {bad.name: probe}, tmp_path, Site(), None)
    assert out.clip is None and out.thumb == thumb_path(event.event_id)
    assert cv2.imread(str(tmp_path / out.thumb)) is not None


def test_scan_output_has_media_for_every_finding(sample_scan, sample_centre):
    """On `examaudit scan` of the samples: a thumbnail for every finding, a playable clip for
    every finding with video, and clips that start where the pre-roll says (checked against
    the source frames)."""
    import pyarrow.parquet as pq

    from pipeline.inputs.config import load_site
    from pipeline.media.probe import probe_file
    from pipeline.review.clips import NO_VIDEO_KINDS

    done, evidence = sample_scan
    assert done.returncode in (0, 1), done.stderr[-2000:]
    site = load_site(sample_centre / "site.toml")
    rows = pq.read_table(evidence / "events.parquet").to_pylist()
    assert rows
    checked = 0
    for r in rows:
        assert r["thumb"] and cv2.imread(str(evidence / r["thumb"])) is not None, r["event_id"]
        if r["kind"] in NO_VIDEO_KINDS:
            assert r["clip"] is None, r["event_id"]
            continue
        assert r["clip"], r["event_id"]
        clip = evidence / r["clip"]
        atoms = _atoms(clip)
        assert atoms.index("moov") < atoms.index("mdat"), r["clip"]
        if checked >= 4 or not r["source_file"]:
            continue
        src = sample_centre / r["source_file"]
        files = pq.read_table(evidence / "files.parquet").to_pylist()
        start = next(f["start"] for f in files if Path(f["path"]).name == src.name)
        probe = probe_file(src, r["camera_id"], start)
        want = max(0.0, (r["start"] - start).total_seconds() - site.review.pre_roll_s)
        key = max(k for k in probe.keyframes_s if k <= want + 1e-6)
        expect_at = key if want - key <= max(site.review.pre_roll_s, 2.0) else want
        frames = _frames(clip)
        with av.open(str(clip)) as c:
            assert c.streams.video[0].codec_context.name == "h264"
        ref = media.grab_frames(src, [expect_at], 4000)[0][1]
        first = frames[0][1]
        if first.shape != ref.shape:
            ref = cv2.resize(ref, (first.shape[1], first.shape[0]))
        assert np.abs(first.astype(int) - ref.astype(int)).mean() < 8, r["clip"]
        checked += 1
    assert checked >= 1
