"""What analysing the hours outside the plan costs (issue 16): the samples scanned with the
coarse people pass (``analysis.unscheduled_every_s`` as generated) and without it (0),
alternately, each run into a fresh evidence folder (no cache), plus ``--no-schedule``; wall and
CPU seconds (the scan's whole process tree).

    python -m benchmarks.bench_unplanned [--runs 3] [--samples sample_videos]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _scan(folder: Path, out: Path, *extra: str) -> tuple[float, float]:
    """Wall and CPU seconds (the scan and its worker processes) of one scan."""
    t0, c0 = time.perf_counter(), _cpu()
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "scan", str(folder), "--out", str(out),
         "--workers", "2", "--no-clips", "--no-report", *extra],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stderr[-2000:])
    return time.perf_counter() - t0, _cpu() - c0


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--samples", type=Path, default=Path("sample_videos"))
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with_pass, without = root / "with", root / "without"
        shutil.copytree(args.samples, with_pass)
        shutil.copytree(args.samples, without)
        toml = (without / "site.toml").read_text(encoding="utf-8")
        toml = re.sub(r"(?m)^unscheduled_every_s = .*$", "unscheduled_every_s = 0.0", toml)
        if "unscheduled_every_s = 0.0" not in toml:
            toml = toml.replace("[analysis]\n", "[analysis]\nunscheduled_every_s = 0.0\n")
        (without / "site.toml").write_text(toml, encoding="utf-8")
        times: dict[str, list[tuple[float, float]]] = {"with": [], "without": [], "no_schedule": []}
        for i in range(args.runs):
            times["without"].append(_scan(without, root / f"e-without-{i}"))
            times["with"].append(_scan(with_pass, root / f"e-with-{i}"))
            times["no_schedule"].append(_scan(with_pass, root / f"e-none-{i}", "--no-schedule"))
    wall = {k: statistics.median(w for w, _ in v) for k, v in times.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in times.items()}
    result = {
        "runs_wall_cpu_s": times,
        "median_wall_s": wall,
        "median_cpu_s": cpu,
        # CPU is the robust measure on a shared machine; wall on an idle one
        "unplanned_pass_overhead_cpu": cpu["with"] / cpu["without"] - 1.0,
        "unplanned_pass_overhead_wall": wall["with"] / wall["without"] - 1.0,
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
