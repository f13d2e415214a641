"""What analysing the hours outside the plan costs (issue 16): the samples scanned with the
coarse people pass (``analysis.unscheduled_every_s`` as generated) and without it (0),
alternately, each run into a fresh evidence folder (no cache), plus ``--no-schedule``.

    python -m benchmarks.bench_unplanned [--runs 3] [--samples sample_videos]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _scan(folder: Path, out: Path, *extra: str) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "scan", str(folder), "--out", str(out),
         "--workers", "2", "--no-clips", "--no-report", *extra],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stderr[-2000:])
    return time.perf_counter() - t0


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
        times: dict[str, list[float]] = {"with": [], "without": [], "no_schedule": []}
        for i in range(args.runs):
            times["without"].append(_scan(without, root / f"e-without-{i}"))
            times["with"].append(_scan(with_pass, root / f"e-with-{i}"))
            times["no_schedule"].append(_scan(with_pass, root / f"e-none-{i}", "--no-schedule"))
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "runs": times,
        "median_s": med,
        "unplanned_pass_overhead": med["with"] / med["without"] - 1.0,
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
