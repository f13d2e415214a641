"""The scan on an existing Dask cluster (`--scheduler`) gives the same evidence as a local run."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from clipgen import SCHEDULE_HEADER, write_clip
from distributed import LocalCluster

from pipeline.scan import ScanOptions, run_scan


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dask_centre")
    for i, name in enumerate(
        [
            "cam01_20220315T083000",
            "cam01_20220315T083030",
            "cam02_20220315T083000",
            "cam02_20220315T083040",
        ]
    ):
        write_clip(root / f"{name}.mp4", 25, seed=i)
    (root / "schedule.csv").write_text(
        SCHEDULE_HEADER
        + "S1,C1,R1,cam01,theory,x,2022-03-15T08:30:00+08:00,2022-03-15T08:31:00+08:00,5,1\n"
        + "S2,C1,R2,cam02,theory,x,2022-03-15T08:30:00+08:00,2022-03-15T08:31:00+08:00,5,1\n"
    )
    (root / "site.toml").write_text('timezone = "Asia/Shanghai"\n[rules]\nmin_height = 180\n')
    return root


def tables(out: Path) -> dict[str, list[dict]]:
    return {
        n: pq.read_table(out / f"{n}.parquet").to_pylist() for n in ("files", "sessions", "events")
    }


def test_scheduler_address_runs_on_a_two_process_cluster(centre: Path, tmp_path: Path) -> None:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        remote = run_scan(
            ScanOptions(
                centre,
                out=tmp_path / "remote",
                scheduler=cluster.scheduler_address,
                checks=("coverage",),
                clips=False,
                report=False,
            ),
            say=lambda m: None,
        )
        assert len(cluster.scheduler.workers) == 2
    local = run_scan(
        ScanOptions(
            centre,
            out=tmp_path / "local",
            workers=1,
            checks=("coverage",),
            clips=False,
            report=False,
        ),
        say=lambda m: None,
    )
    assert remote.exit_code == local.exit_code == 0
    got, want = tables(tmp_path / "remote"), tables(tmp_path / "local")
    assert got == want
    assert len(got["files"]) == 4
    gaps = sorted((e["session_id"], e["duration_s"]) for e in got["events"])
    assert gaps == [
        ("S1", pytest.approx(5.0, abs=0.1)),  # between the two files
        ("S1", pytest.approx(5.0, abs=0.1)),  # early stop
        ("S2", pytest.approx(15.0, abs=0.1)),  # between the two files
    ]


def _loaded() -> tuple[tuple[tuple[str, str], ...], bool]:
    """What the worker's process holds: detectors built, and whether the OCR engine is."""
    import pipeline.signals.clock as clock
    from pipeline import tasks

    return tuple(sorted(tasks._detectors)), clock._engine is not None


def test_workers_load_the_analysis_as_they_join(tmp_path: Path) -> None:
    """The scan's warm-up plugin builds the detector and the OCR engine on every worker,
    in a thread, before any chunk asks for them; a worker that joins later gets it too."""
    import time

    from distributed import Client

    from pipeline.dispatch import local_cluster, warm_up_workers

    with local_cluster(1) as cluster, Client(cluster) as client:
        assert set(client.run(_loaded).values()) == {((), False)}
        warm_up_workers(client, ("coverage", "integrity", "people"), "hog", "cpu")
        cluster.scale(2)
        client.wait_for_workers(2)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = list(client.run(_loaded).values())
            if len(states) == 2 and all(s == ((("hog", "cpu"),), True) for s in states):
                break
            time.sleep(0.2)
        assert states == [((("hog", "cpu"),), True)] * 2


def test_own_cluster_workers_load_the_analysis_before_they_join() -> None:
    """The scan's own cluster starts its workers with the models loaded (nothing left for the
    first chunk), a worker restarted later loads them again, and a cluster without warm-up
    (or after one with it, in the same process) starts bare."""
    from distributed import Client

    from pipeline.dispatch import local_cluster

    warm = (("coverage", "integrity", "people"), "hog", "cpu")
    with local_cluster(2, warm) as cluster, Client(cluster) as client:
        assert list(client.run(_loaded).values()) == [((("hog", "cpu"),), True)] * 2
        client.restart()
        assert list(client.run(_loaded).values()) == [((("hog", "cpu"),), True)] * 2
    with local_cluster(1) as cluster, Client(cluster) as client:
        assert list(client.run(_loaded).values()) == [((), False)]


def test_a_failed_warm_up_leaves_the_worker_running() -> None:
    """A detector that cannot be built at start (here: no such spec) costs only the head
    start: the worker joins, logs why, and tasks build what they need on demand."""
    from distributed import Client

    from pipeline.dispatch import local_cluster

    bad = (("people",), "no-such-detector", "cpu")
    with local_cluster(1, bad) as cluster, Client(cluster) as client:
        assert list(client.run(_loaded).values()) == [((), False)]
        assert client.submit(sum, [1, 2]).result() == 3


def _busy(seconds: float) -> int:
    import time

    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        n += sum(range(200))
    return n


def _profiled(dask_worker) -> int:
    """Stack samples the worker's profiler took since its last profile cycle (1 s)."""
    return int(dask_worker.profile_recent["count"])


def test_own_cluster_leaves_out_dask_bookkeeping() -> None:
    """The scan's own cluster has no dashboard: its workers do not sample task stacks (the
    profiler took the GIL every 10 ms next to each chunk), tick the event loop at 1 s, not
    20 ms, and the settings stay inside that cluster (a cluster started later, or the
    caller's own, keeps Dask's defaults)."""
    import dask
    from distributed import Client

    from pipeline.dispatch import local_cluster

    keys = ("distributed.worker.profile.enabled", "distributed.admin.tick.interval")
    before = [dask.config.get(k) for k in keys]
    with local_cluster(1) as cluster, Client(cluster) as client:
        assert client.submit(_busy, 0.5, pure=False).result() > 0
        assert list(client.run(_profiled).values()) == [0]  # nothing sampled
        settings = list(client.run(lambda: [dask.config.get(k) for k in keys]).values())
        assert settings == [[False, "1s"]]
    assert [dask.config.get(k) for k in keys] == before
    with (
        LocalCluster(n_workers=1, processes=True, dashboard_address=":0") as plain,
        Client(plain) as client,
    ):
        assert client.submit(_busy, 0.5, pure=False).result() > 0
        (samples,) = client.run(_profiled).values()
        assert samples > 0  # with Dask's defaults: the check above can fail


def _worker_state() -> tuple[str | None, bool, int, bool, bool]:
    """What a scan worker runs with: its malloc setting, whether pandas got imported by an
    Arrow conversion, the table's rows, whether importing pandas is refused, and whether
    Ctrl-C (SIGINT) is ignored (the client stops the workers)."""
    import importlib.util
    import os
    import signal
    import sys

    import numpy as np
    import pyarrow as pa

    table = pa.table({"a": pa.array(np.arange(3.0)), "b": pa.array(["x", None, "z"])})
    assert table.column("a").to_numpy().tolist() == [0.0, 1.0, 2.0]
    # probing for it must not raise (torch's dynamo does as YOLO loads); nothing to look at
    assert importlib.util.find_spec("pandas").origin is None
    try:
        import pandas  # noqa: F401

        refused = False
    except ImportError:
        refused = True
    return (
        os.environ.get("MALLOC_TRIM_THRESHOLD_"),
        "pandas" in sys.modules and sys.modules["pandas"] is not None,
        table.num_rows,
        refused,
        signal.getsignal(signal.SIGINT) is signal.SIG_IGN,
    )


def test_scan_workers_keep_malloc_defaults_leave_pandas_out_and_ignore_ctrl_c() -> None:
    """Dask's nanny would set MALLOC_TRIM_THRESHOLD_ (which made onnxruntime 2-5x slower in
    the workers) and pyarrow imports pandas on its first conversion; the scan's own workers
    have neither, Arrow conversions still work there, and SIGINT is left to the client."""
    from distributed import Client

    from pipeline.dispatch import local_cluster

    with local_cluster(1) as cluster, Client(cluster) as client:
        state = client.submit(_worker_state, pure=False).result()
    assert state == (None, False, 3, True, True)


@pytest.mark.slow
def test_yolo_scan_on_the_scans_own_workers(centre: Path, tmp_path: Path) -> None:
    """The YOLO plumbing (an untrained network from its YAML) through the scan's local
    cluster: its workers' set-up must not break what ultralytics and torch import."""
    pytest.importorskip("ultralytics")
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "scan",
            str(centre),
            "--out",
            str(tmp_path / "ev"),
            "--workers",
            "2",
            "--detector",
            "yolo:yolo11n.yaml",
            "--no-clips",
            "--no-report",
        ],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "detector: yolo" in done.stderr
    assert len(pq.read_table(tmp_path / "ev" / "timeline.parquet")) > 0
