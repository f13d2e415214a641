"""Scale without loss: hundreds of recordings, and a long file in bounded memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from clipgen import SCHEDULE_HEADER, write_clip
from distributed import Client, LocalCluster

from benchmarks.media import concat
from benchmarks.suite import peak_rss_mb
from pipeline.scan import ScanOptions, run_scan

CHECKS = ("coverage", "integrity")


def scan_on_cluster(root: Path, out: Path) -> tuple[int, dict[str, float]]:
    """Scan on a fresh 2-worker cluster; returns exit code and each worker's peak RSS (MB)."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        result = run_scan(
            ScanOptions(
                root,
                out=out,
                scheduler=cluster.scheduler_address,
                checks=CHECKS,
                clips=False,
                report=False,
            ),
            say=lambda m: None,
        )
        return result.exit_code, client.run(peak_rss_mb)


def test_200_recordings_50_sessions(tmp_path: Path) -> None:
    root = tmp_path / "centre"
    root.mkdir()
    rows = []
    for s in range(50):
        cam = f"cam{s % 5:02d}"
        hour, minute = 8 + (s // 5) // 6, ((s // 5) % 6) * 10
        for k in range(4):
            write_clip(
                root / f"{cam}_20220315T{hour:02d}{minute:02d}{k * 5:02d}.mp4",
                5,
                size=(160, 96),
                seed=s * 4 + k,
            )
        rows.append(
            f"S{s:02d},C1,R{s % 5},{cam},theory,x,2022-03-15T{hour:02d}:{minute:02d}:00+08:00,"
            f"2022-03-15T{hour:02d}:{minute:02d}:20+08:00,5,1\n"
        )
    (root / "schedule.csv").write_text(SCHEDULE_HEADER + "".join(rows))
    (root / "site.toml").write_text('timezone = "Asia/Shanghai"\n[rules]\nmin_height = 96\n')
    code, peaks = scan_on_cluster(root, tmp_path / "ev")
    assert code == 0
    files = pq.read_table(tmp_path / "ev" / "files.parquet").to_pylist()
    sessions = pq.read_table(tmp_path / "ev" / "sessions.parquet").to_pylist()
    assert len(files) == 200 and all(f["error"] is None for f in files)
    assert len(sessions) == 50 and all(s["coverage"] == pytest.approx(1.0) for s in sessions)
    timeline = pq.read_table(tmp_path / "ev" / "timeline.parquet", columns=["session_id"])
    assert timeline.num_rows >= 50 * 10  # every session sampled every 2 s
    print(f"\npeak RSS per worker (MB): {peaks}")
    assert all(mb < 1500 for mb in peaks.values()), peaks


def test_long_file_in_bounded_memory(tmp_path: Path) -> None:
    """A 2-hour file costs no more worker memory than a 10-minute one: chunks bound it."""
    parts = [write_clip(tmp_path / f"part{i}.mp4", 20, size=(320, 180), seed=i) for i in range(3)]
    peaks = {}
    for minutes in (10, 120):
        root = tmp_path / f"c{minutes}"
        root.mkdir()
        concat([parts[i % 3] for i in range(minutes * 3)], root / "cam01_20220315T080000.mp4")
        end = f"{8 + minutes // 60:02d}:{minutes % 60:02d}"
        (root / "schedule.csv").write_text(
            SCHEDULE_HEADER + f"S1,C1,R1,cam01,theory,x,2022-03-15T08:00:00+08:00,"
            f"2022-03-15T{end}:00+08:00,5,1\n"
        )
        (root / "site.toml").write_text('timezone = "Asia/Shanghai"\n[rules]\nmin_height = 180\n')
        code, worker_peaks = scan_on_cluster(root, tmp_path / f"ev{minutes}")
        assert code == 0
        rows = pq.read_table(tmp_path / f"ev{minutes}" / "timeline.parquet", columns=["t"]).num_rows
        assert rows == pytest.approx(minutes * 30, abs=2)  # one sample per 2 s
        peaks[minutes] = max(worker_peaks.values())
    print(f"\npeak worker RSS (MB): 10 min {peaks[10]:.0f}, 2 h {peaks[120]:.0f}")
    assert peaks[120] < peaks[10] + 150


def _probe(name: str, duration_s: float, gop_s: float = 2.0):
    from datetime import UTC, datetime

    from pipeline.records import FileProbe

    keys = tuple(float(k) for k in np.arange(0.0, duration_s, gop_s))
    return FileProbe(
        path=Path(name),
        sha256="",
        size_bytes=1,
        camera_id="cam01",
        start=datetime(2022, 3, 15, tzinfo=UTC),
        duration_s=duration_s,
        container="mov,mp4",
        codec="h264",
        width=1920,
        height=1080,
        fps=25.0,
        keyframe_interval_s=gop_s,
        keyframes_s=keys,
        reordered=False,
    )


def _pieces(probes, workers: int) -> list[float]:
    from pipeline.inputs.config import Site
    from pipeline.media.sampling import plan_chunks
    from pipeline.unscheduled import balanced

    analysis = balanced(Site(), probes, workers).analysis
    return sorted(c.end_s - c.start_s for p in probes for c in plan_chunks(p, analysis))


def _fixed_split(probes, workers: int, per_worker: int) -> list[float]:
    from dataclasses import replace

    from pipeline.inputs.config import Analysis
    from pipeline.media.sampling import plan_chunks

    total = sum(p.duration_s for p in probes)
    analysis = replace(Analysis(), chunk_s=min(300.0, max(60.0, total / (per_worker * workers))))
    return [c.end_s - c.start_s for p in probes for c in plan_chunks(p, analysis)]


def test_chunks_keep_every_worker_busy_with_the_fewest_cuts() -> None:
    """A long file alone: one chunk per worker (each extra chunk repeats an open, a seek,
    detector runs and a clock read). Files of unequal lengths: cut finer where the loads would
    otherwise differ, and the plan's estimated makespan is never worse than three per worker
    (the earlier fixed split). Short files are never cut; one worker keeps ``chunk_s``."""
    from pipeline.unscheduled import CHUNK_OVERHEAD_S, makespan

    assert _pieces([_probe("a.mp4", 600.0)], 2) == [300.0, 300.0]
    assert _pieces([_probe("a.mp4", 600.0)], 4) == [150.0] * 4
    assert _pieces([_probe("a.mp4", 600.0)], 1) == [300.0, 300.0]  # analysis.chunk_s
    three = [_probe(f"{k}.mp4", 250.0) for k in range(3)]
    pieces = _pieces(three, 2)
    assert len(pieces) > 3  # three whole files would load one worker twice as much
    assert makespan(pieces, 2) < makespan([250.0] * 3, 2)
    assert makespan(pieces, 2) <= makespan(_fixed_split(three, 2, 3), 2) + 1e-6
    assert makespan(pieces, 2) <= sum(pieces) / 2 + max(pieces) + CHUNK_OVERHEAD_S
    short = [_probe(f"{k}.mp4", 37.5) for k in range(16)]
    assert _pieces(short, 2) == [37.5] * 16
    hours = [_probe(f"h{k}.mp4", 1800.0) for k in range(2)]  # every split is chunk_s
    assert _pieces(hours, 2) == [300.0] * 12
    mixed = [_probe("long.mp4", 1800.0), _probe("short.mp4", 90.0)]
    assert max(_pieces(mixed, 2)) <= 300.0  # never above analysis.chunk_s


def test_makespan_is_the_longest_first_greedy_load() -> None:
    from pipeline.unscheduled import makespan

    assert makespan([300.0, 300.0], 2, overhead_s=0) == 300.0
    assert makespan([250.0, 250.0, 250.0], 2, overhead_s=0) == 500.0
    assert makespan([3, 3, 2, 2, 2], 2, overhead_s=0) == 7.0  # LPT's known non-optimum
    assert makespan([10.0], 3, overhead_s=5.0) == 15.0
