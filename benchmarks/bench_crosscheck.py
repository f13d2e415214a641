"""Crosscheck at scale (issue 15): hundreds of evidence folders of fingerprints on 2 workers.

Each synthetic evidence folder holds only ``fingerprints.parquet`` (no recordings, so nothing
is confirmed frame by frame: every reported stretch is a fingerprint match, ``verified``
false). Folder ``f`` is centre ``f // 2``'s batch of month ``f % 2`` (two batches per centre,
so a room's sessions recur, with the same seats, across folders): ``--cameras`` rooms, one
``--minutes`` session each, sampled every 2 s, motion grids from benchmarks.bench_reuse's
session model (a pacing proctor, fidgeting candidates at the room's seats), quantised as the
scan writes them (each grid's largest cell 255). ``--copies`` stretches of 2 minutes are
copied from one centre's room into another centre's (grids jittered as a re-encode does).

The run uses a LocalCluster of 2 worker processes (``--scheduler`` path of ``crosscheck``);
each worker's RSS is sampled every 0.2 s (psutil).

Usage: python -m benchmarks.bench_crosscheck [--folders 200] [--cameras 3] [--minutes 60]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.bench_reuse import session_energy
from pipeline import schemas

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "crosscheck"
RESULTS = HERE / "results" / "bench_crosscheck.json"
STEP_S = 2.0
COPY_S = 120.0
T0 = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)


def _grids(energy: np.ndarray) -> list[bytes | None]:
    peak = energy.max(axis=1, keepdims=True)
    q = np.where(peak > 0, np.round(255 * energy / np.maximum(peak, 1e-9)), 0).astype(np.uint8)
    return [row.tobytes() for row in q]


def build(root: Path, folders: int, cameras: int, minutes: int, copies: int, seed: int = 0):
    """Write the folders; returns their paths and the planted copies
    ``(src folder, dst folder, camera, dst start, length)`` (dst is the copy)."""
    rng = np.random.default_rng(seed)
    per = int(minutes * 60 / STEP_S)
    energy = {
        (f, c): session_energy(rng, 1000 * (f // 2) + c, per)
        for f in range(folders)
        for c in range(cameras)
    }
    planted = []
    n = int(COPY_S / STEP_S)
    into = 1 if cameras > 1 else 0  # the copy goes to camera 1 of the other folder (0 if alone)
    for k in range(copies):
        src = (7 * k + 3) % folders
        dst = (src + 2 * (folders // 4) + 1) % folders  # another centre
        a, b = per // 6, per // 2  # copied from 1/6 into the middle of the other session
        jitter = rng.lognormal(0, 0.1, (n, 64)) + rng.normal(0, 0.005, (n, 64))
        energy[(dst, into)][b : b + n] = np.maximum(energy[(src, 0)][a : a + n] * jitter, 0)
        planted.append((src, dst, into, b * STEP_S, COPY_S))
    paths = []
    for f in range(folders):
        day = T0 + timedelta(days=30 * (f % 2) + f // 2 % 20)
        rows: dict[str, list] = {k: [] for k in schemas.FINGERPRINTS.names}
        for c in range(cameras):
            tf = np.arange(per) * STEP_S
            name = f"cam{c:02d}_{day:%Y%m%dT%H%M%S}.mp4"
            rows["session_id"] += [f"F{f:03d}-S{c}"] * per
            rows["camera_id"] += [f"cam{c:02d}"] * per
            rows["t"] += [day + timedelta(seconds=float(s)) for s in tf]
            rows["source_file"] += [name] * per
            rows["t_file_s"] += tf.tolist()
            rows["fingerprint"] += rng.integers(0, 2**63, per).tolist()
            rows["motion_grid"] += _grids(energy[(f, c)])
        folder = root / f"centre{f // 2:03d}-month{f % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            pa.Table.from_pydict(rows, schema=schemas.FINGERPRINTS),
            folder / "fingerprints.parquet",
        )
        paths.append(folder)
    return paths, planted


class RssSampler:
    """Peak RSS of some processes, sampled every ``every`` seconds in a thread."""

    def __init__(self, pids: dict[str, int], every: float = 0.2) -> None:
        import psutil

        self.procs = {k: psutil.Process(p) for k, p in pids.items()}
        self.peak = dict.fromkeys(pids, 0)
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            for k, p in self.procs.items():
                with contextlib.suppress(psutil.Error):  # a worker restarting
                    self.peak[k] = max(self.peak[k], p.memory_info().rss)
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run(folders: int, cameras: int, minutes: int, copies: int, workers: int = 2) -> dict:
    from distributed import Client, LocalCluster

    from pipeline.inspectorate.crosscheck import crosscheck

    root = WORK / f"{folders}x{cameras}x{minutes}"
    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    paths, planted = build(root, folders, cameras, minutes, copies)
    built = time.perf_counter() - t0
    size = sum((p / "fingerprints.parquet").stat().st_size for p in paths)
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        pids = {f"worker{i}": pid for i, pid in enumerate(client.run(os.getpid).values())}
        with RssSampler({**pids, "client": os.getpid()}) as rss:
            t0 = time.perf_counter()
            result = crosscheck(paths, 20.0, scheduler=cluster.scheduler_address)
            wall = time.perf_counter() - t0
    rows = result.table.to_pylist()
    found = 0
    matched_rows: set[int] = set()
    for src, dst, _camera, start, length in planted:
        dst_t0 = T0 + timedelta(days=30 * (dst % 2) + dst // 2 % 20, seconds=start)
        hits = [
            i
            for i, r in enumerate(rows)
            if {r["a_evidence"], r["b_evidence"]} == {str(paths[src]), str(paths[dst])}
            and any(
                r[f"{s}_evidence"] == str(paths[dst])
                and r[f"{s}_start"] < dst_t0 + timedelta(seconds=length)
                and dst_t0 < r[f"{s}_end"]
                for s in ("a", "b")
            )
        ]
        found += bool(hits)
        matched_rows.update(hits)
    mb = 1024 * 1024
    return {
        "folders": folders,
        "camera_hours": round(folders * cameras * minutes / 60, 1),
        "samples": folders * cameras * int(minutes * 60 / STEP_S),
        "fingerprints_mb": round(size / mb, 1),
        "workers": workers,
        "build_s": round(built, 1),
        "crosscheck_wall_s": round(wall, 1),
        "peak_rss_mb": {k: round(v / mb) for k, v in rss.peak.items()},
        "planted_found": f"{found}/{len(planted)}",
        "rows": len(rows),
        "false_pairs": len(rows) - len(matched_rows),
        "false_pairs_same_centre": sum(
            1
            for i, r in enumerate(rows)
            if i not in matched_rows
            and Path(r["a_evidence"]).name[:9] == Path(r["b_evidence"]).name[:9]
        ),
        "problems": len(result.problems),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folders", type=int, default=200)
    ap.add_argument("--cameras", type=int, default=3)
    ap.add_argument("--minutes", type=int, default=60)
    ap.add_argument("--copies", type=int, default=5)
    ap.add_argument("--no-save", action="store_true", help="do not write the results file")
    args = ap.parse_args()
    got = run(args.folders, args.cameras, args.minutes, args.copies)
    got["machine"] = f"{os.cpu_count()} CPU, {platform.processor() or platform.machine()}"
    got["date"] = datetime.now(UTC).strftime("%Y-%m-%d")
    print(json.dumps(got, indent=1))
    if not args.no_save:
        runs = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
        runs = [r for r in runs if r.get("folders") != got["folders"]] + [got]
        RESULTS.write_text(json.dumps(runs, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
