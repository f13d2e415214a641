"""`python -m benchmarks`: the whole suite, one results table.

    python -m benchmarks                 # everything (about an hour on 2 cores, first run
                                         # longer: it builds the recordings)
    python -m benchmarks --only main     # the 10-minute 1080p H.264 GOP 50 file alone
    python -m benchmarks --runs 3 --only main,variants,long,scaling

Results go to benchmarks/results/<machine>-<date>.json and the table in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import compileall
import re
import time
from pathlib import Path
from typing import Any

from benchmarks import suite
from benchmarks.bench_probe import measure as probe_measure
from benchmarks.media import MediaSpec

MAIN = MediaSpec()
VARIANTS = [MediaSpec(1280, 720), MediaSpec(codec="hevc"), MediaSpec(gop=25), MediaSpec(gop=250)]
LONG = MediaSpec(minutes=120)
README = Path(__file__).resolve().parent / "README.md"
PARTS = ("main", "variants", "long", "scaling")


COLUMNS = [
    ("x real time: keyframe decode", "x_real_time_keyframe_decode", "{:,.0f}x"),
    ("scan, 2 workers", "x_real_time_scan", "{:,.0f}x"),
    ("scan, 1 worker", "x_real_time_scan_1_worker", "{:,.0f}x"),
    ("coverage only", "x_real_time_coverage_only", "{:,.0f}x"),
    ("OpenCV peer", "x_real_time_opencv", "{:,.1f}x"),
    ("FFmpeg peer", "x_real_time_ffmpeg", "{:,.1f}x"),
    ("scan (2 w) / keyframe decode", "scan_over_keyframe_decode", "{:.2f}"),
    ("scan (1 w) / keyframe decode", "scan_1_worker_over_keyframe_decode", "{:.2f}"),
    ("`examaudit scan` command (2 w) / keyframe decode", "cli_over_keyframe_decode", "{:.2f}"),
    ("findings", "findings", "{}"),
    ("runs", "runs", "{}"),
    ("OpenCV / scan", "opencv_over_scan", "{:.1f}"),
    ("frames decoded per video-s: scan", "frames_decoded_per_video_s_scan", "{:.2f}"),
    ("… OpenCV", "frames_decoded_per_video_s_opencv", "{:.0f}"),
    ("peak RSS per worker", "peak_rss_mb_per_worker", "{:.0f} MB"),
]


def table(results: dict[str, Any]) -> str:
    head = ["recording", *(title for title, _, _ in COLUMNS)]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in results["files"]:
        s = row["summary"]
        cells = [row["file"]] + [fmt.format(s[key]) if key in s else "–" for _, key, fmt in COLUMNS]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def update_readme(results: dict[str, Any], json_path: Path) -> None:
    m = results["machine"]
    block = [
        "<!-- results:start -->",
        f"Machine: {m['cpu_model']}, {m['cores']} cores, {m['memory_gb']} GB; Python "
        f"{m['python']}, PyAV {m['pyav']}, OpenCV {m['opencv']}. Date: {results['date']}. "
        "Medians of the runs each row says, its measurements alternating. "
        f"Raw: `{json_path.relative_to(README.parent.parent)}`.",
        "",
        table(results),
    ]
    if "scaling" in results:
        sc = results["scaling"]
        block += [
            "",
            f"Scaling on {sc['footage']}: 1 file / 1 worker "
            f"{sc['1_file_1_worker']['seconds']:.1f} s, 16 files / 1 worker "
            f"{sc['16_files_1_worker']['seconds']:.1f} s, 16 files / 2 workers "
            f"{sc['16_files_2_workers']['seconds']:.1f} s: 2 workers give "
            f"{sc['speedup_2_workers_16_files']:.2f}x the throughput of 1"
            + (
                f" (each round's own ratio: {min(sc['speedup_per_round']):.2f}-"
                f"{max(sc['speedup_per_round']):.2f})."
                if sc.get("speedup_per_round")
                else "."
            ),
        ]
    if "probe" in results:
        p = results["probe"]
        block += [
            "",
            f"Probe alone (one packet pass + SHA-256, one core): "
            f"{p['x_real_time']:,}x real time on {p['file']} ({p['size_mb']} MB).",
        ]
    block.append("<!-- results:end -->")
    text = README.read_text(encoding="utf-8") if README.exists() else ""
    new = "\n".join(block)
    if "<!-- results:start -->" in text:
        text = re.sub(
            r"<!-- results:start -->.*<!-- results:end -->", lambda _: new, text, flags=re.S
        )
    else:
        text += "\n" + new + "\n"
    README.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma list of {PARTS}")
    parser.add_argument(
        "--tag", default="", help="suffix of the results file's name (b: 2nd round)"
    )
    parser.add_argument(
        "--variants",
        default="",
        help="comma list of variant names to measure (default all: "
        + ", ".join(v.name for v in VARIANTS)
        + ")",
    )
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"--only: unknown part(s) {sorted(unknown)}")
    chosen = {v.strip() for v in args.variants.split(",") if v.strip()}
    unknown = chosen - {v.name for v in VARIANTS}
    if unknown:
        parser.error(f"--variants: unknown {sorted(unknown)}")
    # measured as installed: pip compiles the package's modules, and an environment with
    # PYTHONDONTWRITEBYTECODE (this project's CI machines) would otherwise compile them again
    # in the command and in every worker process of every measured scan
    compileall.compile_dir(str(Path(__file__).resolve().parents[1] / "pipeline"), quiet=1)
    t0 = time.time()
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "runs": args.runs,
        "machine": {**suite.machine(), "cpu_model": suite.cpu_model()},
        "files": [],
    }
    earlier = suite.load_results(args.tag)  # the same machine's results of today: parts run apart
    if earlier is not None:
        results["files"] = earlier.get("files", [])
        for key in ("scaling", "probe"):
            if key in earlier:
                results[key] = earlier[key]

    def save() -> None:  # after every part, so a long run keeps what it measured
        results["wall_s"] = round(time.time() - t0)
        path = suite.write_results(results, args.tag)
        update_readme(results, path)
        print(f"wrote {path} and {README}", flush=True)

    def measure(spec: MediaSpec, peers: bool, full: bool = True) -> None:
        print(f"measuring {spec.name} ...", flush=True)
        row = suite.measure_file(spec, args.runs, peers=peers, full=full)
        row["summary"] = suite.summarise(row)
        print(row["summary"], flush=True)
        results["files"] = [r for r in results["files"] if r["file"] != row["file"]] + [row]
        save()

    if "main" in parts:
        measure(MAIN, peers=True)
        results["probe"] = probe_measure(10, args.runs)
        save()
    if "scaling" in parts:
        print("measuring scaling ...", flush=True)
        results["scaling"] = suite.scaling(args.runs)
        save()
    for spec in VARIANTS if "variants" in parts else []:
        if not chosen or spec.name in chosen:
            measure(spec, peers=True)
    if "long" in parts:
        measure(LONG, peers=False, full=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
