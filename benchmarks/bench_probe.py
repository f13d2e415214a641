"""Probe throughput: one packet pass + SHA-256 over a >= 10-minute 1080p H.264 recording.

Goal (issue 2): >= 2,000x real time on one core. Usage: python -m benchmarks.bench_probe
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from benchmarks.media import MediaSpec, recording
from pipeline.media.probe import probe_file


def measure(minutes: float = 10, runs: int = 3) -> dict:
    path = recording(MediaSpec(minutes=minutes))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        probe = probe_file(path)
        times.append(time.perf_counter() - t0)
    assert probe.error is None, probe.error
    median = statistics.median(times)
    return {
        "file": path.name,
        "size_mb": round(probe.size_bytes / 1e6, 1),
        "duration_s": round(probe.duration_s, 1),
        "packets": probe.frame_count,
        "probe_s_median": round(median, 4),
        "x_real_time": round(probe.duration_s / median),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.minutes, args.runs), indent=2))


if __name__ == "__main__":
    main()
