"""Bad recordings: each becomes a file_unreadable row with its reason; the rest is processed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from badmedia import make_bad_recordings
from clipgen import SCHEDULE_HEADER, write_clip

from pipeline.media.probe import probe_file


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("bad")
    good = write_clip(folder / "good.mp4", 6)
    expected = make_bad_recordings(folder, good)
    return folder, expected


def test_probe_names_what_is_wrong(bad: tuple[Path, dict[str, str]]) -> None:
    folder, expected = bad
    assert probe_file(folder / "good.mp4").error is None
    for name, reason in expected.items():
        probe = probe_file(folder / name)
        assert probe.error is not None and reason in probe.error, (name, probe.error)


def test_partly_readable_file_keeps_its_readable_part(bad: tuple[Path, dict[str, str]]) -> None:
    folder, _ = bad
    probe = probe_file(folder / "midgop.mp4")
    assert 3.0 < probe.duration_s < 10.0  # cut at 55 % of a 12 s file
    assert len(probe.recorded_spans()) == 0  # no start time known for this name
    assert probe.frame_count > 0


def test_scan_reports_each_and_processes_the_rest(
    bad: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    folder, expected = bad
    root = tmp_path / "centre"
    root.mkdir()
    # the same broken files, named as cam01 segments of one session; plus two good segments
    names = {}
    for i, name in enumerate(sorted(expected)):
        target = f"cam01_20220315T0830{i * 6:02d}.mp4"
        shutil.copy(folder / name, root / target)
        names[target] = expected[name]
    write_clip(root / "cam01_20220315T083100.mp4", 20, seed=3)
    write_clip(root / "cam02_20220315T083000.mp4", 60, seed=4)
    (root / "schedule.csv").write_text(
        SCHEDULE_HEADER
        + "S1,C1,R1,cam01,theory,x,2022-03-15T08:30:00+08:00,2022-03-15T08:31:20+08:00,5,1\n"
        + "S2,C1,R2,cam02,theory,x,2022-03-15T08:30:00+08:00,2022-03-15T08:31:00+08:00,5,1\n"
    )
    (root / "site.toml").write_text('timezone = "Asia/Shanghai"\n[rules]\nmin_height = 180\n')
    out = tmp_path / "ev"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "scan",
            str(root),
            "--out",
            str(out),
            "--workers",
            "2",
            "--checks",
            "coverage",
            "--no-clips",
            "--no-report",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    files = {r["path"]: r for r in pq.read_table(out / "files.parquet").to_pylist()}
    assert len(files) == len(names) + 2
    for name, reason in names.items():
        assert files[name]["error"] and reason in files[name]["error"], name
    assert files["cam02_20220315T083000.mp4"]["error"] is None
    events = pq.read_table(out / "events.parquet").to_pylist()
    unreadable = {
        e["source_file"]: json.loads(e["details"])["reason"]
        for e in events
        if e["kind"] == "file_unreadable"
    }
    assert set(unreadable) == set(names)
    sessions = {r["session_id"]: r for r in pq.read_table(out / "sessions.parquet").to_pylist()}
    # S1: only the 20 s good segment and the readable part of the mid-GOP cut count
    assert sessions["S1"]["coverage"] < 0.5
    assert sessions["S2"]["coverage"] == pytest.approx(1.0)
    assert sessions["S2"]["verdict"] == "pass"


def test_file_that_disappears_during_the_run(tmp_path: Path) -> None:
    """Deleted after it was probed, before it was decoded: its video counts as lost, the
    reason is recorded, and the other files are fully processed."""
    import os
    import time

    root = tmp_path / "centre"
    root.mkdir()
    for i, start in enumerate(("083000", "083030", "083100")):
        write_clip(root / f"cam01_20220315T{start}.mp4", 30, seed=i, gop_s=1.0)
    (root / "schedule.csv").write_text(
        SCHEDULE_HEADER
        + "S1,C1,R1,cam01,theory,x,2022-03-15T08:30:00+08:00,2022-03-15T08:31:30+08:00,5,1\n"
    )
    (root / "site.toml").write_text(
        'timezone = "Asia/Shanghai"\n[rules]\nmin_height = 180\n'
        "[analysis]\nsample_every_s = 0.25\nchunk_s = 5\n"
    )
    out = tmp_path / "ev"
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
            "scan",
            str(root),
            "--out",
            str(out),
            "--workers",
            "1",
            "--checks",
            "coverage,integrity",
            "--no-clips",
            "--no-report",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    probes = out / ".cache" / "probe"
    deadline = time.monotonic() + 120
    while not (probes.is_dir() and len(os.listdir(probes)) == 3):
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.02)
    (root / "cam01_20220315T083100.mp4").unlink()  # analysed last: jobs run in path order
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 1, stderr
    files = {r["path"]: r for r in pq.read_table(out / "files.parquet").to_pylist()}
    assert "decoding failed for 30 s of 30 s" in files["cam01_20220315T083100.mp4"]["error"]
    assert "file not found" in files["cam01_20220315T083100.mp4"]["error"]
    assert files["cam01_20220315T083000.mp4"]["error"] is None
    events = pq.read_table(out / "events.parquet").to_pylist()
    assert [e["source_file"] for e in events if e["kind"] == "file_unreadable"] == [
        "cam01_20220315T083100.mp4"
    ]
    (session,) = pq.read_table(out / "sessions.parquet").to_pylist()
    assert session["coverage"] == pytest.approx(60 / 90, abs=0.01)
    timeline = pq.read_table(out / "timeline.parquet").to_pylist()
    sampled = {r["source_file"] for r in timeline}
    assert sampled == {"cam01_20220315T083000.mp4", "cam01_20220315T083030.mp4"}
    assert len(timeline) == pytest.approx(2 * 30 / 0.25, abs=4)
