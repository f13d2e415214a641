"""The benchmark suite: `python -m benchmarks` (see benchmarks/README.md).

On the same recordings, as ratios: the pure keyframe-decode time (the practical limit of a
sampled audit), `examaudit scan` end to end (probe, integrity, people, events, evidence, clips,
report) with its stages, a coverage-only scan, and two peers doing the same checks: a plain
OpenCV loop reading every frame with the same HOG detector every k frames (what a user writes
first), and FFmpeg's blackdetect+freezedetect filters. Also scaling from 1 to 2 Dask workers
and from 1 to 16 files, and peak RSS per worker on a 2-hour file. Medians of >= 3 runs.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import psutil

from benchmarks import bench_integrity
from benchmarks.media import WORK, MediaSpec, centre, recording, split

RESULTS = Path(__file__).resolve().parent / "results"
SAMPLE_EVERY_S = 2.0


def medians(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Numbers become medians over the runs, the first run's other values stay."""
    out: dict[str, Any] = {}
    for key, value in results[0].items():
        values = [r[key] for r in results]
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = statistics.median(values)
        elif isinstance(value, dict):
            out[key] = {k: statistics.median([v[k] for v in values]) for k in value}
        else:
            out[key] = value
    if "seconds" in results[0]:  # the spread: this kind of machine drifts within minutes
        out["seconds_per_round"] = [round(r["seconds"], 3) for r in results]
    out["runs"] = len(results)
    return out


def alternating(runs: int, fns: dict[str, Callable[[], dict[str, Any]]]) -> dict[str, Any]:
    """Each measurement once per round, ``runs`` rounds, then the medians of each: the ratios
    compare runs made under the same conditions (a loaded or throttled machine hits all)."""
    rounds = [{name: fn() for name, fn in fns.items()} for _ in range(runs)]
    return {name: medians([r[name] for r in rounds]) for name in fns}


def keyframe_decode(path: Path) -> dict[str, Any]:
    """Decode every keyframe, nothing else, no conversion: what any sampled audit must pay."""
    seconds, frames = bench_integrity.keyframe_decode(path)
    return {"seconds": seconds, "frames_decoded": frames}


def opencv_peer(path: Path, every_k: int) -> dict[str, Any]:
    """What a user writes first: read every frame with OpenCV, black/frozen from every frame,
    the same HOG detector on every k-th frame at 640 px."""
    from pipeline.detectors import make_detector

    detector = make_detector("hog", "cpu")
    cap = cv2.VideoCapture(str(path))
    t0 = time.perf_counter()
    n = dark = still = people = 0
    prev = None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        dark += float(gray.mean()) < 20
        if prev is not None:
            still += float(cv2.absdiff(gray, prev).mean()) < 0.5
        prev = gray
        if n % every_k == 0:
            small = cv2.resize(frame, (640, 640 * frame.shape[0] // frame.shape[1]))
            people += len(detector.detect(small[None])[0].boxes)
        n += 1
    cap.release()
    return {"seconds": time.perf_counter() - t0, "frames_decoded": n}


def ffmpeg_peer(path: Path) -> dict[str, Any]:
    return {"seconds": bench_integrity.ffmpeg_filters(path)}


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM belongs to the address space, so a
    worker does not inherit its parent's peak (getrusage's ru_maxrss does, across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _process_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def _cpu_seconds(client) -> float:
    """CPU seconds so far of this process (client, scheduler, nannies) and of every worker."""
    return _process_cpu_s() + sum(client.run(_process_cpu_s).values())


def scan(
    folder: Path,
    workers: int,
    checks: tuple[str, ...] = ("coverage", "integrity", "people"),
    clips: bool = True,
    detector: str = "auto",
) -> dict[str, Any]:
    """`examaudit scan` on a fresh cluster of ``workers`` processes (the scan's own
    :func:`~pipeline.dispatch.local_cluster`: worker processes started with the task code
    imported and the analysis's models loaded, as the command starts them) into a fresh
    folder; seconds exclude starting the cluster (reported apart, and :func:`cli_scan` times
    the whole command)."""
    from distributed import Client

    from pipeline.detectors import make_detector
    from pipeline.dispatch import local_cluster, needs_warm_up
    from pipeline.scan import ScanOptions, run_scan
    from pipeline.worker_init import leave_out_unused

    leave_out_unused()  # as the command does in its own process (pyarrow would load pandas)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        t0 = time.perf_counter()
        warm = None  # what the command's own cluster loads as its workers start
        if needs_warm_up(checks):
            spec = make_detector(detector, "cpu").spec if "people" in checks else "-"
            warm = (tuple(checks), spec, "cpu")
        with local_cluster(workers, warm) as cluster, Client(cluster) as client:
            started = time.perf_counter() - t0
            cpu0 = _cpu_seconds(client)
            t0 = time.perf_counter()
            result = run_scan(
                ScanOptions(
                    folder,
                    out=Path(tmp) / "ev",
                    scheduler=cluster.scheduler_address,
                    checks=checks,
                    clips=clips,
                    report=clips,
                    detector=detector,
                ),
                say=lambda m: None,
            )
            seconds = time.perf_counter() - t0
            cpu = _cpu_seconds(client) - cpu0
            peaks = client.run(peak_rss_mb)
        import pyarrow.parquet as pq

        events = pq.read_table(Path(tmp) / "ev" / "events.parquet").to_pylist()
        samples = pq.read_table(Path(tmp) / "ev" / "timeline.parquet", columns=["t"]).num_rows
    return {
        "seconds": seconds,
        "cluster_start_s": started,
        "cpu_s": cpu,
        "stages": {k: round(v, 3) for k, v in result.timings.items()},
        "peak_rss_mb_per_worker": max(peaks.values()),
        "samples": samples,
        "findings": sorted({e["kind"] for e in events}),
        "finding_s": sum(e["duration_s"] for e in events),
        "exit_code": result.exit_code,
    }


def cli_scan(folder: Path, workers: int) -> dict[str, Any]:
    """The whole `examaudit scan` command as a user runs it: interpreter start, imports,
    cluster start, the scan, the clips and the report, until the process exits. CPU seconds
    are the process tree's (the command and its worker processes)."""
    import subprocess
    import sys

    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        command = [sys.executable, "-m", "pipeline", "scan", str(folder), "--out", f"{tmp}/ev"]
        done = subprocess.run(
            [*command, "--workers", str(workers)],
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"examaudit scan {folder} exited {done.returncode}: {done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"seconds": seconds, "cpu_s": cpu}


def frames_decoded_by_scan(path: Path) -> int:
    """What the sampler decodes: keyframes only when they are no further apart than the
    sampling interval; else each GOP from its keyframe up to its last sample (P/B frames need
    their references), the last GOP to the end. Counted from the probe's keyframes at the
    file's frame rate (chunk borders, which decode one step again, are left out)."""
    from pipeline.inputs.config import Analysis
    from pipeline.media.probe import probe_file
    from pipeline.media.sampling import keyframe_interval

    probe = probe_file(path)
    every = Analysis().sample_every_s
    gop = keyframe_interval(probe)
    if gop is not None and every >= gop - 1e-3:
        return len(probe.keyframes_s)
    fps = probe.fps or 25.0
    keys = sorted(probe.keyframes_s)
    frames = 0.0
    for start, end in zip(keys, [*keys[1:], None], strict=True):
        if end is None:
            frames += (probe.duration_s - start) * fps
            continue
        last = np.floor((end - 1e-6) / every) * every  # the GOP's last bucket start
        frames += (max(last, start) - start) * fps + 1
    return round(frames)


def measure_file(spec: MediaSpec, runs: int, peers: bool, full: bool = True) -> dict[str, Any]:
    """One recording's row; ``full`` False leaves out the 1-worker scan and the command (the
    2-hour file: minutes each, and no goal reads them)."""
    path = recording(spec)
    with av.open(str(path)) as c:
        duration = float(c.duration) / 1e6
    folder = centre(WORK / f"centre_{spec.name}", [path], clock=not spec.tiled)
    row: dict[str, Any] = {
        "file": spec.name,
        "duration_s": duration,
        "size_mb": round(path.stat().st_size / 1e6, 1),
    }
    k = round(SAMPLE_EVERY_S * spec.fps)
    fns: dict[str, Callable[[], dict[str, Any]]] = {
        "keyframe_decode": lambda: keyframe_decode(path),
        "scan": lambda: scan(folder, workers=2),
        "coverage_only": lambda: scan(folder, 1, ("coverage",), clips=False),
    }
    if full:
        fns["scan_1_worker"] = lambda: scan(folder, workers=1)
        fns["cli_scan"] = lambda: cli_scan(folder, 2)
    if peers:
        fns["opencv_peer"] = lambda: opencv_peer(path, k)
        fns["ffmpeg_peer"] = lambda: ffmpeg_peer(path)
    row.update(alternating(runs, fns))
    row["scan"]["frames_decoded"] = frames_decoded_by_scan(path)
    return row


def scaling(runs: int) -> dict[str, Any]:
    """1 file vs the same footage in 16 files, and 1 vs 2 workers on the 16 files."""
    spec = MediaSpec(1280, 720)
    path = recording(spec)
    one = centre(WORK / "scaling_1file", [path])
    pieces = split(path, WORK / "scaling_16files_src", 16)
    many = centre(WORK / "scaling_16files", pieces)
    out: dict[str, Any] = {"footage": spec.name}
    out |= alternating(
        runs,
        {
            "1_file_1_worker": lambda: scan(one, 1),
            "16_files_1_worker": lambda: scan(many, 1),
            "16_files_2_workers": lambda: scan(many, 2),
        },
    )
    out["speedup_2_workers_16_files"] = (
        out["16_files_1_worker"]["seconds"] / out["16_files_2_workers"]["seconds"]
    )
    # each round's own ratio: its two runs were made minutes apart at most
    out["speedup_per_round"] = [
        round(one / two, 3)
        for one, two in zip(
            out["16_files_1_worker"]["seconds_per_round"],
            out["16_files_2_workers"]["seconds_per_round"],
            strict=True,
        )
    ]
    return out


def machine() -> dict[str, Any]:
    freq = psutil.cpu_freq()
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": psutil.cpu_count(logical=True),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu_mhz": round(freq.max or freq.current) if freq else None,
        "python": platform.python_version(),
        "pyav": av.__version__,
        "opencv": cv2.__version__,
        "numpy": np.__version__,
        "ffmpeg_peer": "imageio-ffmpeg",
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def summarise(row: dict[str, Any]) -> dict[str, Any]:
    """Ratios and x-real-time figures of one file's measurements."""
    d = row["duration_s"]
    kf = row["keyframe_decode"]["seconds"]
    sc = row["scan"]["seconds"]
    s = {
        "x_real_time_keyframe_decode": d / kf,
        "x_real_time_scan": d / sc,
        "x_real_time_coverage_only": d / row["coverage_only"]["seconds"],
        "scan_over_keyframe_decode": sc / kf,
        "scan_over_keyframe_decode_per_round": [
            round(a / b, 3)
            for a, b in zip(
                row["scan"]["seconds_per_round"],
                row["keyframe_decode"]["seconds_per_round"],
                strict=True,
            )
        ],
        "cpu_s_scan": row["scan"]["cpu_s"],
        "findings": ", ".join(row["scan"]["findings"]) or "none",
        "runs": row["scan"]["runs"],
        "frames_decoded_per_video_s_scan": row["scan"]["frames_decoded"] / d,
        "peak_rss_mb_per_worker": row["scan"]["peak_rss_mb_per_worker"],
    }
    if "scan_1_worker" in row:
        s["x_real_time_scan_1_worker"] = d / row["scan_1_worker"]["seconds"]
        s["scan_1_worker_over_keyframe_decode"] = row["scan_1_worker"]["seconds"] / kf
    if "cli_scan" in row:
        s["x_real_time_cli"] = d / row["cli_scan"]["seconds"]
        s["cli_over_keyframe_decode"] = row["cli_scan"]["seconds"] / kf
    if row["scan"]["finding_s"]:
        s["frames_decoded_per_finding_s_scan"] = (
            row["scan"]["frames_decoded"] / row["scan"]["finding_s"]
        )
    if "opencv_peer" in row:
        s["opencv_over_scan"] = row["opencv_peer"]["seconds"] / sc
        s["x_real_time_opencv"] = d / row["opencv_peer"]["seconds"]
        s["frames_decoded_per_video_s_opencv"] = row["opencv_peer"]["frames_decoded"] / d
        s["ffmpeg_over_scan"] = row["ffmpeg_peer"]["seconds"] / sc
        s["x_real_time_ffmpeg"] = d / row["ffmpeg_peer"]["seconds"]
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in s.items()}


def results_path(tag: str = "") -> Path:
    """``results/<cores>cpu-<cpu model>-<date><tag>.json`` (a tag keeps a second round of
    the same day apart from the first)."""
    slug = re.sub(r"[^a-z0-9]+", "-", cpu_model().lower()).strip("-")[:40]
    return RESULTS / f"{psutil.cpu_count()}cpu-{slug}-{date.today().isoformat()}{tag}.json"


def load_results(tag: str = "") -> dict[str, Any] | None:
    path = results_path(tag)
    return json.loads(path.read_text()) if path.is_file() else None


def write_results(results: dict[str, Any], tag: str = "") -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = results_path(tag)
    path.write_text(json.dumps(results, indent=2, default=str))
    return path


def clean_work() -> None:
    for folder in WORK.glob("centre_*"):
        shutil.rmtree(folder, ignore_errors=True)
