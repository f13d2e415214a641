"""Faults during a run: a worker killed mid-task, the whole run interrupted and restarted.
Each time the final evidence is complete and identical to an undisturbed run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clipgen import SCHEDULE_HEADER, write_clip
from distributed import Client, LocalCluster

TABLES = ("files", "sessions", "events", "timeline")
ARGS = ["--checks", "coverage,integrity", "--no-clips", "--no-report"]


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four one-minute files analysed in 10 s chunks with dense sampling: dozens of tasks."""
    root = tmp_path_factory.mktemp("fault_centre")
    for i, (cam, start) in enumerate(
        [("cam01", "083000"), ("cam01", "083100"), ("cam02", "083000"), ("cam02", "083100")]
    ):
        write_clip(root / f"{cam}_20220315T{start}.mp4", 60, seed=i, gop_s=1.0)
    (root / "schedule.csv").write_text(
        SCHEDULE_HEADER
        + "S1,C1,R1,cam01,theory,x,2022-03-15T08:30:00+08:00,2022-03-15T08:32:00+08:00,5,1\n"
        + "S2,C1,R2,cam02,theory,x,2022-03-15T08:30:00+08:00,2022-03-15T08:32:00+08:00,5,1\n"
    )
    (root / "site.toml").write_text(
        'timezone = "Asia/Shanghai"\n[rules]\nmin_height = 180\n'
        "[analysis]\nchunk_s = 10\nsample_every_s = 0.25\n"
    )
    return root


def cli(centre: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", "scan", str(centre), "--out", str(out), *ARGS, *extra]


@pytest.fixture(scope="module")
def reference(centre: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("undisturbed") / "ev"
    done = subprocess.run(
        cli(centre, out, "--workers", "2"), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return {t: (out / f"{t}.parquet").read_bytes() for t in TABLES}


def cached_chunks(out: Path) -> int:
    folder = out / ".cache" / "timeline"
    return len(list(folder.glob("*.parquet"))) if folder.is_dir() else 0


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(predicate, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_worker_killed_mid_task(centre: Path, reference: dict[str, bytes], tmp_path: Path) -> None:
    out = tmp_path / "ev"
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        pids = client.run(os.getpid)
        run = subprocess.Popen(
            cli(centre, out, "--scheduler", cluster.scheduler_address),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: cached_chunks(out) >= 2 or run.poll() is not None)
        assert run.poll() is None, "scan finished before a worker could be killed"
        victim = next(iter(pids.values()))
        os.kill(victim, signal.SIGKILL)
        _stdout, stderr = run.communicate(timeout=600)
        assert run.returncode == 0, stderr
        assert victim not in client.run(os.getpid).values()  # the nanny started a new worker
    assert {t: (out / f"{t}.parquet").read_bytes() for t in TABLES} == reference


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_run_resumes(
    centre: Path, reference: dict[str, bytes], tmp_path: Path, sig: signal.Signals
) -> None:
    out = tmp_path / "ev"
    run = subprocess.Popen(
        cli(centre, out, "--workers", "2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # as from a terminal: a test run started in the background (nohup, `&` in a script)
        # passes SIGINT on ignored, and a process that inherits it ignored keeps ignoring it
        preexec_fn=_default_sigint,
    )
    wait_for(lambda: cached_chunks(out) >= 3 or run.poll() is not None)
    assert run.poll() is None, "scan finished before it could be interrupted"
    os.killpg(run.pid, sig)  # the whole job, as a terminal's Ctrl-C or a kill would
    _stdout, stderr = run.communicate(timeout=120)
    done_before = cached_chunks(out)
    assert done_before >= 3
    # nothing half-written in place
    assert not (out / "events.parquet").exists(), (run.returncode, stderr[-3000:])
    again = subprocess.run(
        cli(centre, out, "--workers", "2"), capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0, again.stderr
    assert cached_chunks(out) >= done_before  # finished chunks were reused, not redone
    assert {t: (out / f"{t}.parquet").read_bytes() for t in TABLES} == reference
    assert not list(out.rglob("*.tmp"))
