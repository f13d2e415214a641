"""Still is not frozen: integrity findings on real, quiet rooms (issue 11).

Plates are the median of a real clip (benchmarks/stillroom.py). A live still room is that
plate with fresh sensor noise in every frame; a frozen feed repeats one frame (as it was,
re-quantised upstream, under constant bitrate, under a running burned-in clock). Live rooms
give no ``frozen_video`` at all; frozen feeds are found within +-2 s. The whole matrix is
``benchmarks/bench_still.py``; here a handful of fast combinations. An empty, still room of
several minutes scanned end to end gives one ``proctor_absent`` over it and nothing frozen.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from clipgen import SCHEDULE_HEADER

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.still_scan import scan_room  # noqa: E402
from benchmarks.stillroom import Room, encode  # noqa: E402
from pipeline.inputs.config import load_site  # noqa: E402

LIVE = [
    Room(sigma=0.5, crf=18, seconds=20),
    Room(sigma=0.5, crf=32, seconds=20, size=(854, 480)),
    Room(sigma=3.0, crf=28, seconds=20, drift=0.15, plate="TUD-Stadtmitte"),
    Room(sigma=1.0, crf=23, seconds=24, gop_s=6, fps=15, codec="libx265", size=(320, 240)),
    Room(sigma=1.0, bitrate_kbps=300, seconds=20, clock=True),
]
FROZEN = [
    Room(sigma=0.5, crf=18, seconds=30, frozen=(8, 22)),
    Room(sigma=1.0, crf=28, seconds=30, frozen=(8, 22), freeze="requant", fps=25, gop_s=1),
    Room(sigma=1.0, crf=23, seconds=30, frozen=(8, 22), freeze="clock"),
    Room(sigma=3.0, bitrate_kbps=300, seconds=30, frozen=(8, 22)),
    Room(sigma=1.5, crf=23, seconds=30, frozen=(9, 23), gop_s=4, codec="libx265"),
]


@pytest.mark.parametrize("room", LIVE, ids=[r.label() for r in LIVE])
def test_live_still_room_is_never_frozen(real_data: Path, tmp_path: Path, room: Room) -> None:
    score = scan_room(room, tmp_path)
    assert score.frozen == [] and score.black == [], (room.label(), score)


@pytest.mark.parametrize("room", FROZEN, ids=[r.label() for r in FROZEN])
def test_frozen_feed_is_found(real_data: Path, tmp_path: Path, room: Room) -> None:
    score = scan_room(room, tmp_path)
    assert score.found == 1 and score.false_s == 0, (room.label(), score.frozen)


def test_dark_live_room_at_night_is_not_black(real_data: Path, tmp_path: Path) -> None:
    """A room at night: dark (mean luma under the black threshold) but with its real
    contrast and strong sensor noise. Only a dark, featureless picture (a covered lens, a
    video-loss screen) is black."""
    night = scan_room(Room(sigma=4.0, crf=26, seconds=20, gain=0.16, seed=3), tmp_path)
    assert night.black == [] and night.frozen == [], night


def test_site_black_limits_reach_the_finder_and_the_refinement(
    real_data: Path, tmp_path: Path
) -> None:
    """The same night room, with a site that calls a dark picture black up to a luma std of
    12 (site.toml [rules]): now one black stretch over the whole clip."""
    site = tmp_path / "site.toml"
    site.write_text(
        'timezone = "Asia/Shanghai"\n[rules]\nblack_dark_std = 12\nblack_dark_std_exit = 13\n',
        encoding="utf-8",
    )
    rules = load_site(site).rules
    night = scan_room(Room(sigma=4.0, crf=26, seconds=20, gain=0.16, seed=3), tmp_path, rules=rules)
    assert len(night.black) == 1 and night.frozen == [], night
    start, end = night.black[0]
    assert start <= 1 and end >= 19, night


def test_covered_lens_is_black(real_data: Path, tmp_path: Path) -> None:
    covered = scan_room(Room(sigma=1.5, crf=26, seconds=20, gain=0.03), tmp_path)
    assert len(covered.black) == 1 and covered.frozen == [], covered


SITE = (
    'timezone = "Asia/Shanghai"\n'
    "[rules]\nmin_height = 240\nmin_fps = 5\nmin_proctor_absence_s = 60.0\n"
    "[analysis]\nsample_every_s = 2.0\n"
)


def _scan(root: Path, out: Path, *extra: str) -> list[dict]:
    """``examaudit scan`` of ``root`` as a user runs it (one worker, no media) -> events."""
    args = ["scan", root, "--out", out, "--workers", "1", "--no-clips", "--no-report", *extra]
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return pq.read_table(out / "events.parquet").to_pylist()


def test_empty_still_room_gives_one_absence_end_to_end(real_data: Path, tmp_path: Path) -> None:
    """Four minutes of an empty, still, live room (real plate, sigma 1, slow drift, as an NVR
    encodes it) through ``examaudit scan``: one proctor_absent over all of it, nothing frozen
    (a false frozen span would erase the absence), and no unverifiable time."""
    root = tmp_path / "centre"
    root.mkdir()
    room = Room(seconds=240, size=(640, 480), fps=10, sigma=1.0, drift=0.08, crf=23, gop_s=2)
    encode(room, root / "cam01_20220315T083000.mp4")
    (root / "schedule.csv").write_text(
        SCHEDULE_HEADER + "S1,C1,R1,cam01,theory,safety,2022-03-15T08:30:00+08:00,"
        "2022-03-15T08:34:00+08:00,10,1\n"
    )
    (root / "site.toml").write_text(SITE)
    out = tmp_path / "ev"
    events = _scan(root, out, "--detector", "ssdlite")
    kinds = [e["kind"] for e in events]
    assert "frozen_video" not in kinds, kinds
    absent = [e for e in events if e["kind"] == "proctor_absent"]
    assert len(absent) == 1, kinds
    start = absent[0]["start"].timestamp() - 1647304200  # 2022-03-15T00:30:00Z
    end = absent[0]["end"].timestamp() - 1647304200
    assert abs(start) <= 2 and abs(end - 240) <= 2, (start, end)
    assert json.loads(absent[0]["details"])["unverifiable_s"] == 0
    session = pq.read_table(out / "sessions.parquet").to_pylist()[0]
    assert session["unverifiable_s"] == 0
    assert session["longest_proctor_absence_s"] == pytest.approx(240, abs=2)


def test_still_room_over_a_day_is_not_turned_nor_looped(real_data: Path, tmp_path: Path) -> None:
    """The same still room in three sessions over a day (daylight falling from full to 60 %,
    drifting within each session) and a byte-identical copy of the first recording: the view
    is the usual one, a still scene repeated is never a loop, and nothing is frozen or black."""
    root = tmp_path / "centre"
    root.mkdir()
    rows, names = [], []
    for k, (clock, gain) in enumerate((("08:30", 1.0), ("11:30", 0.8), ("15:30", 0.6))):
        room = Room(seconds=60, sigma=1.5, gain=gain, drift=0.05, crf=24, seed=k)
        name = f"cam01_20220315T{clock.replace(':', '')}00.mp4"
        encode(room, root / name)
        names.append(name)
        end = f"{int(clock[:2]):02d}:31"
        rows.append(f"S{k},C1,R1,cam01,theory,safety,2022-03-15T{clock}:00+08:00,")
        rows[-1] += f"2022-03-15T{end}:00+08:00,10,1\n"
    (root / "cam01_20220315T173000.mp4").write_bytes((root / names[0]).read_bytes())
    rows.append(
        "S3,C1,R1,cam01,theory,safety,2022-03-15T17:30:00+08:00,2022-03-15T17:31:00+08:00,10,1\n"
    )
    (root / "schedule.csv").write_text(SCHEDULE_HEADER + "".join(rows))
    (root / "site.toml").write_text(SITE)
    events = _scan(root, tmp_path / "ev", "--checks", "integrity")
    picture = ("black_screen", "frozen_video", "view_changed", "looped_footage")
    assert [(e["kind"], e["session_id"]) for e in events if e["kind"] in picture] == []


def _verify(values: list[float], scores: list[float]) -> np.ndarray:
    """verified_frozen on keyframe-only samples every 2 s (still where the score is low)."""
    from pipeline.findings.picture import verified_frozen
    from pipeline.signals.picture import is_still

    repeat = np.asarray(values, float)
    score = np.asarray(scores, float)
    t = np.arange(len(repeat)) * 2.0
    still = is_still(score, np.ones(len(score)))
    return verified_frozen(still, score, repeat, np.full(len(t), 2.0), t, 2.0)


def test_quiet_stretch_of_a_busy_session_is_not_frozen() -> None:
    """People moving (keyframes 4 grey levels apart), then an empty, still, live room (1.0
    apart, within the noise): the busy part raises the camera's live level, yet the quiet
    keyframes all differ alike, so none of them passes for a repeat."""
    values = [4.0, 4.2, 3.9, 4.1, 4.3, 3.8] * 3 + [1.0, 0.95, 1.05, 1.0, 0.98, 1.02, 1.0]
    scores = [3.0] * 18 + [0.5] * 7
    assert not _verify(values, scores).any()
    # with keyframes repeating exactly, the freeze is found and the busy part stays live; the
    # quiet keyframes next to it are absorbed (known limit: they differ like the keyframes of
    # a rate control settling on a repeated picture, which tests/test_integrity.py needs)
    values[21] = values[22] = 0.0
    got = _verify(values, scores)
    assert got[20:23].all() and not got[:17].any()
