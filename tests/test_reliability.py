"""Faults in the run: hung tasks, failing disks, tampering — each survived, nothing lost."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from clipgen import SCHEDULE_HEADER, write_clip
from distributed import Client, LocalCluster

from pipeline.dispatch import Hung, collect

CLI = [sys.executable, "-m", "pipeline"]


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rel_centre")
    write_clip(root / "cam01_20220315T083000.mp4", 30)
    write_clip(root / "cam01_20220315T083040.mp4", 20, seed=1)
    (root / "schedule.csv").write_text(
        SCHEDULE_HEADER
        + "S1,C1,R1,cam01,theory,x,2022-03-15T08:30:00+08:00,2022-03-15T08:31:00+08:00,5,1\n"
    )
    (root / "site.toml").write_text('timezone = "Asia/Shanghai"\n[rules]\nmin_height = 180\n')
    return root


def scan(centre: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *CLI,
            "scan",
            str(centre),
            "--out",
            str(out),
            "--workers",
            "1",
            "--checks",
            "coverage",
            "--no-clips",
            "--no-report",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_a_hung_task_is_declared_and_the_rest_finish() -> None:
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        futures = [client.submit(_sleep, s, pure=False) for s in (0.1, 600, 0.2, 0.3)]
        t0 = time.monotonic()
        results = {f.key: r for f, r in collect(client, futures, timeout_s=3)}
        assert time.monotonic() - t0 < 60
        got = [results[f.key] for f in futures]
        assert got[0] == 0.1 and got[2] == 0.2 and got[3] == 0.3
        assert isinstance(got[1], Hung)
        assert "per-file timeout" in str(got[1])
        # the restarted worker takes new work
        assert client.submit(_sleep, 0.01, pure=False).result(timeout=60) == 0.01


def test_tampering_is_caught(centre: Path, tmp_path: Path) -> None:
    root = tmp_path / "c"
    shutil.copytree(centre, root)
    out = tmp_path / "ev"
    assert scan(root, out).returncode == 0
    assert subprocess.run([*CLI, "archive-check", str(out)], capture_output=True).returncode == 0
    # edit one row of events.parquet
    events = pq.read_table(out / "events.parquet")
    durations = events.column("duration_s").to_pylist()
    durations[0] = 0.5
    index = events.schema.get_field_index("duration_s")
    pq.write_table(
        events.set_column(index, "duration_s", pa.array(durations)), out / "events.parquet"
    )
    # replace one recording, remove none, add one
    write_clip(root / "cam01_20220315T083040.mp4", 20, seed=7)
    write_clip(root / "cam01_20220315T083500.mp4", 2, seed=8)
    (root / "cam01_20220315T083000.mp4").rename(root / "moved.bin")
    done = subprocess.run(
        [*CLI, "archive-check", str(out)],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1
    lines = done.stdout
    assert "events.parquet" in lines
    for name, status in [
        ("cam01_20220315T083040.mp4", "changed"),
        ("cam01_20220315T083000.mp4", "missing"),
        ("cam01_20220315T083500.mp4", "appeared"),
    ]:
        assert any(name in line and status in line for line in lines.splitlines()), (name, lines)


def _unshare_ok() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "true"], capture_output=True
    )
    return probe.returncode == 0


needs_mounts = pytest.mark.skipif(
    not _unshare_ok(), reason="needs unshare -m (root) to mount a small tmpfs"
)


@needs_mounts
@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_write_failure_keeps_previous_evidence(centre: Path, tmp_path: Path, fault: str) -> None:
    """A real tmpfs, first written, then filled up or remounted read-only, then re-scanned
    with a changed input: the scan fails with a clear error and the old evidence verifies."""
    root = tmp_path / "c"
    shutil.copytree(centre, root)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    keep = tmp_path / "kept"
    break_it = (
        f"dd if=/dev/zero of={mnt}/filler bs=64k 2>/dev/null || true"
        if fault == "full"
        else f"mount -o remount,ro {mnt}"
    )
    cli = " ".join(CLI)
    opts = "--workers 1 --checks coverage --no-clips --no-report"
    script = f"""
set -u
mount -t tmpfs -o size=4M tmpfs {mnt}
{cli} scan {root} --out {mnt}/ev {opts} >/dev/null 2>&1
echo first=$?
rm -rf {mnt}/ev/.cache
cp {root}/cam01_20220315T083000.mp4 {root}/cam01_20220315T083200.mp4
{break_it}
{cli} scan {root} --out {mnt}/ev {opts} 2>{tmp_path}/err
echo second=$?
COLUMNS=200 {cli} archive-check {mnt}/ev >{tmp_path}/check 2>&1; echo check=$?
ls -a {mnt}/ev > {tmp_path}/listing
cp -r {mnt}/ev {keep}
"""
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "first=0" in done.stdout, done.stdout + done.stderr
    assert "second=1" in done.stdout, done.stdout + done.stderr
    err = (tmp_path / "err").read_text()
    assert "examaudit: error:" in err and "cannot write" in err and "earlier evidence" in err
    assert str(mnt / "ev") in err
    # the old evidence is intact: the manifest still verifies the old tables (archive-check
    # reports only the recording that appeared after the first scan)
    assert "check=1" in done.stdout
    check = (tmp_path / "check").read_text()
    assert "1 problem" in check and "cam01_20220315T083200.mp4" in check and "appeared" in check
    files = pq.read_table(keep / "files.parquet").column("path").to_pylist()
    assert "cam01_20220315T083200.mp4" not in files
    assert not [n for n in (tmp_path / "listing").read_text().split() if n.endswith(".tmp")]
