"""Clip cutting speed: cut every clip and thumbnail of an evidence folder into a fresh folder.

    python benchmarks/bench_clips.py EVIDENCE [--recordings DIR] [--workers N] [--no-detector]
    python benchmarks/bench_clips.py --samples [--seed 0]   # generate + scan the samples first
    python benchmarks/bench_clips.py EVIDENCE --force encode   # baseline: re-encode every clip
    python benchmarks/bench_clips.py EVIDENCE --force splice   # splice wherever a keyframe allows

Events come from EVIDENCE/events.parquet; their recordings are probed again (the probe's
keyframe list is not stored in the evidence) from ``--recordings`` or the folder named in
manifest.json. Output goes to benchmarks/work/clips-<time>/ (git-ignored), so nothing is
reused; the report gives clips/s, seconds, and how many clips were copied, spliced or re-encoded.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.inputs.config import Site, load_site  # noqa: E402
from pipeline.records import Event  # noqa: E402
from pipeline.review.clips import clip_paths, cut_one  # noqa: E402


class _Modes(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.modes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        for mode in ("copy", "splice", "encode"):
            if f": {mode} " in msg:
                self.modes.append(mode)


def load_events(evidence: Path) -> list[Event]:
    rows = pq.read_table(evidence / "events.parquet").to_pylist()
    out = []
    for r in rows:
        out.append(
            Event(
                r["kind"],
                r["camera_id"],
                r["start"].astimezone(UTC),
                r["end"].astimezone(UTC),
                r["session_id"],
                float(r["confidence"] or 0.0),
                json.loads(r["details"]) if r["details"] else {},
                r["source_file"],
            )
        )
    return out


def probe_recordings(evidence: Path, recordings: Path) -> dict:
    from pipeline.media.probe import probe_file

    probes = {}
    for r in pq.read_table(evidence / "files.parquet").to_pylist():
        path = recordings / r["path"]
        if not path.exists():
            path = Path(r["path"])
        probes[Path(r["path"]).name] = probe_file(
            path, r["camera_id"], r["start"].astimezone(UTC) if r["start"] else None
        )
    return probes


def _cut(args):
    event, probes, out, site, detector = args
    handler = _Modes()
    logger = logging.getLogger("pipeline.review.clips")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        t0 = time.perf_counter()
        result = cut_one(event, probes, out, site, "auto" if detector else None)
        return result, handler.modes, time.perf_counter() - t0
    finally:
        logger.removeHandler(handler)


def samples(seed: int) -> Path:
    work = ROOT / "benchmarks" / "work" / f"samples-{seed}"
    if not (work / "evidence" / "events.parquet").exists():
        shutil.rmtree(work, ignore_errors=True)
        py = sys.executable
        subprocess.run(
            [py, "-m", "pipeline", "samples", str(work / "centre"), "--seed", str(seed)], check=True
        )
        subprocess.run(
            [
                py,
                "-m",
                "pipeline",
                "scan",
                str(work / "centre"),
                "--out",
                str(work / "evidence"),
                "--no-clips",
                "--no-report",
            ],
            check=False,
        )
    return work / "evidence"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("evidence", nargs="?", type=Path)
    ap.add_argument("--recordings", type=Path)
    ap.add_argument("--samples", action="store_true", help="generate and scan the samples first")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--no-detector", action="store_true", help="zones only on thumbnails")
    ap.add_argument(
        "--force", choices=("splice", "encode"), help="never copy: splice (else encode), or encode"
    )
    args = ap.parse_args()
    if args.force:
        import pipeline.review.clips as clips_module

        cut = clips_module.cut_clip
        forced = {"max_lead_s": -1.0, "splice": args.force == "splice"}
        clips_module.cut_clip = lambda *a, **k: cut(*a, **{**k, **forced})
    evidence = samples(args.seed) if args.samples else args.evidence
    if evidence is None:
        ap.error("give EVIDENCE or --samples")
    manifest = (
        json.loads((evidence / "manifest.json").read_text())
        if (evidence / "manifest.json").exists()
        else {}
    )
    inputs = manifest.get("inputs", {})
    recordings = args.recordings or Path(inputs.get("recordings") or ".")
    site_path = inputs.get("site")
    site = load_site(Path(site_path)) if site_path and Path(site_path).exists() else Site()

    events = load_events(evidence)
    t0 = time.perf_counter()
    probes = probe_recordings(evidence, recordings)
    probe_s = time.perf_counter() - t0

    out = ROOT / "benchmarks" / "work" / f"clips-{time.strftime('%Y%m%dT%H%M%S')}"
    out.mkdir(parents=True)
    jobs = [(e, probes, out, site, not args.no_detector) for e in events]
    t0 = time.perf_counter()
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            results = list(pool.map(_cut, jobs))
    else:
        results = [_cut(j) for j in jobs]
    wall = time.perf_counter() - t0

    modes = [m for _, ms, _ in results for m in ms]
    clips = sum((out / p).exists() for e, _, _ in results for p in clip_paths(e.event_id))
    seconds = 0.0
    import av

    for f in (out / "clips").glob("*.mp4") if (out / "clips").exists() else []:
        with av.open(str(f)) as c:
            seconds += (c.duration or 0) / 1e6
    slowest = max((t for _, _, t in results), default=0.0)
    print(f"evidence      {evidence}")
    print(f"events        {len(events)}  (probe of {len(probes)} files: {probe_s:.2f} s)")
    print(
        f"clips         {clips}  ({modes.count('copy')} copied, {modes.count('splice')} "
        f"spliced, {modes.count('encode')} re-encoded), {seconds:.0f} s of video"
    )
    print(f"thumbnails    {len(list((out / 'thumbs').glob('*.jpg')))}")
    print(
        f"wall          {wall:.2f} s with {args.workers} worker(s); slowest event {slowest:.2f} s"
    )
    print(
        f"speed         {clips / wall:.1f} clips/s, {len(events) / wall:.1f} events/s, "
        f"{seconds / wall:.0f}x real time"
    )
    print(f"output        {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
