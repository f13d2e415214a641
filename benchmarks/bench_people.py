"""What people analysis adds to the integrity pass (CPU, HOG), at one sample per GOP.

One recording with real people (TUD-Stadtmitte upscaled to 1280x720, 25 fps, GOP 2 s, looped
by remuxing so it is long without a long encode; a synthetic room with a moving figure where the
real clips are absent) goes through the scan's per-chunk path once:

  decode   plan_chunks + sample_chunk (keyframes only: one sample per GOP, scaled by FFmpeg)
  integ    the analysers of the integrity checks (pipeline.checks.registry.analysers_for)
  people   PeopleSignals (default detector) + StationSignals

and the report gives ``(decode + integ + people) / (decode + integ)`` and the people
analysers' samples/s. Results go to benchmarks/results/bench_people.json.

Usage: python -m benchmarks.bench_people [--minutes 2] [--width 320] [--detector auto]
       [--people-every 0]   # 2: the detector on every sample (before coarse to fine)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.eval_people import decode, real_data_dir  # noqa: E402

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
RESULTS = HERE / "results"
SIZE = (1280, 720)
FPS = 25
GOP = 50
START = datetime(2022, 3, 15, 0, 30, tzinfo=UTC)


def _people_part(path: Path, seconds: float) -> Path:
    """Encode ``seconds`` of the real clip, scaled to SIZE, looping (ping-pong) its frames."""
    from pipeline.samples import write_clip

    data = real_data_dir()
    assert data is not None
    frames, _ = decode(data / "TUD-Stadtmitte.mp4", SIZE[0])
    order = np.concatenate([np.arange(len(frames)), np.arange(len(frames) - 2, 0, -1)])

    def padded():
        for i in range(int(seconds * FPS)):
            img = frames[order[i % len(order)]]
            pad = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
            pad[: min(SIZE[1], img.shape[0])] = img[: SIZE[1]]
            yield pad

    return write_clip(path, padded(), fps=FPS, gop_s=GOP / FPS, size=SIZE, crf=23, x264_params="")


def recording(minutes: float) -> tuple[Path, str]:
    from benchmarks import media

    WORK.mkdir(parents=True, exist_ok=True)
    if real_data_dir() is None:
        spec = media.MediaSpec(minutes=minutes)
        return media.recording(spec), "synthetic room (no real clips)"
    path = WORK / f"people_{SIZE[0]}x{SIZE[1]}_{FPS}fps_gop{GOP}_{minutes:g}min.mp4"
    if not path.is_file():
        part = WORK / f"people_part_{SIZE[0]}x{SIZE[1]}.mp4"
        if not part.is_file():
            _people_part(part, 20.0)
        media.concat([part] * math.ceil(minutes * 60 / 20.0), path)
    return path, "TUD-Stadtmitte (real people), 1280x720"


def run(minutes: float, width: int, detector: str, people_every: float = 0.0) -> dict:
    from pipeline.checks.registry import analysers_for
    from pipeline.detectors import make_detector
    from pipeline.inputs.config import Analysis, Camera, Rules
    from pipeline.media.probe import probe_file
    from pipeline.media.sampling import plan_chunks, sample_chunk
    from pipeline.signals import AnalysisContext, run_analysers

    path, what = recording(minutes)
    probe = probe_file(path, "cam01", START)
    analysis = Analysis(
        sample_every_s=GOP / FPS, width=width, chunk_s=60.0, people_every_s=people_every
    )
    camera = Camera("cam01", station_zone=((0.55, 0.35), (0.95, 0.35), (0.95, 0.95), (0.55, 0.95)))
    det = make_detector(detector)
    integ = analysers_for(("integrity",))
    people = analysers_for(("people",))
    ctx = AnalysisContext(camera=camera, rules=Rules(), analysis=analysis, detector=det)
    times = {"decode": 0.0, "integrity": 0.0, "people": 0.0}
    cpu = dict.fromkeys(times, 0.0)  # process CPU time (all threads): robust to a busy machine
    samples = persons = detected = 0
    for chunk in plan_chunks(probe, analysis):
        t0, c0 = time.perf_counter(), time.process_time()
        batch = sample_chunk(path, chunk, analysis, probe)
        t1, c1 = time.perf_counter(), time.process_time()
        run_analysers(batch, ctx, integ)
        t2, c2 = time.perf_counter(), time.process_time()
        cols = run_analysers(batch, ctx, people)
        t3, c3 = time.perf_counter(), time.process_time()
        for k, a, b, ca, cb in (
            ("decode", t0, t1, c0, c1),
            ("integrity", t1, t2, c1, c2),
            ("people", t2, t3, c2, c3),
        ):
            times[k] += b - a
            cpu[k] += cb - ca
        samples += len(batch)
        persons += int(cols["persons"].sum()) if "persons" in cols else 0
        detected += int(cols["people_detected"].sum()) if "people_detected" in cols else 0
    base = times["decode"] + times["integrity"]
    total = base + times["people"]
    cpu_base = cpu["decode"] + cpu["integrity"]
    return {
        "recording": what,
        "duration_s": round(probe.duration_s, 1),
        "size": f"{probe.width}x{probe.height}",
        "gop_s": GOP / FPS,
        "analysis_width": width,
        "detector": det.name,
        "detector_reason": det.reason,
        "samples": samples,
        # coarse to fine (analysis.people_every_s, 0: a quarter of the shortest people rule)
        "people_every_s": people_every,
        "detector_frames": detected,
        "mean_persons_per_sample": round(persons / max(samples, 1), 2),
        "wall_s": {k: round(v, 3) for k, v in times.items()},
        "cpu_s": {k: round(v, 3) for k, v in cpu.items()},
        "ratio_with_people_cpu": round((cpu_base + cpu["people"]) / cpu_base, 2)
        if cpu_base
        else None,
        "people_cpu_ms_per_sample": round(1000 * cpu["people"] / max(samples, 1), 1),
        "integrity_pass_samples_per_s": round(samples / base, 1) if base else None,
        "people_samples_per_s": round(samples / times["people"], 1) if times["people"] else None,
        "people_ms_per_sample": round(1000 * times["people"] / max(samples, 1), 1),
        "ratio_with_people": round(total / base, 2) if base else None,
        "video_s_per_wall_s_with_people": round(probe.duration_s / total, 1) if total else None,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--minutes", type=float, default=2.0)
    p.add_argument("--width", type=int, default=None, help="analysis width (default: config)")
    p.add_argument("--detector", default="auto")
    p.add_argument(
        "--people-every",
        type=float,
        default=0.0,
        help="analysis.people_every_s (0: automatic coarse to fine; 2: every sample)",
    )
    p.add_argument("--json", type=Path, default=RESULTS / "bench_people.json")
    args = p.parse_args(argv)
    from pipeline.inputs.config import Analysis

    result = run(args.minutes, args.width or Analysis().width, args.detector, args.people_every)
    print(json.dumps(result, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
