"""GPU check, one prepared script: YOLO batch throughput vs video decode on the lent machine.

Runs offline on a copy of the working tree, in under 4 minutes:

  1. environment: python, torch (+ CUDA and the GPU's name), ultralytics, PyAV, nvidia-smi
  2. YOLO built from ``yolo11n.yaml`` (untrained: no weights can be fetched there; the
     network's cost is the same as the trained one's, NMS aside) at 640 px, batch sizes
     1/8/32/64: end-to-end ``predict`` frames/s (letterbox + forward + NMS, fp16 on cuda) and
     bare forward frames/s on a ready tensor
  3. PyAV decode frames/s of a generated 1080p H.264 clip (25 fps, GOP 50): every frame,
     every frame scaled to 640 BGR (what sampling does), keyframes only, and NVDEC through
     PyAV's ``hwaccel`` when FFmpeg offers cuda

Every stage reports what it found and falls back (cpu, skipped with a reason) instead of
failing. JSON goes to ``$OUT/gpu_yolo.json`` when ``$OUT`` is set, else
benchmarks/results/gpu_yolo.json.

    python benchmarks/gpu_yolo.py            # on the GPU machine
    python benchmarks/gpu_yolo.py --quick    # tiny settings, cpu: checks the script itself
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
T_START = time.monotonic()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - T_START:6.1f}s] {msg}", flush=True)


def environment() -> dict:
    env: dict = {"python": sys.version.split()[0], "platform": platform.platform()}
    env["cpus"] = os.cpu_count()
    try:
        import torch

        env["torch"] = torch.__version__
        env["cuda_available"] = bool(torch.cuda.is_available())
        env["torch_cuda"] = torch.version.cuda
        if torch.cuda.is_available():
            env["gpu"] = torch.cuda.get_device_name(0)
    except Exception as exc:
        env["torch"] = f"unavailable: {exc}"
        env["cuda_available"] = False
    for mod in ("ultralytics", "av", "cv2"):
        try:
            env[mod] = __import__(mod).__version__
        except Exception as exc:
            env[mod] = f"unavailable: {exc}"
    try:
        from av.codec.hwaccel import hwdevices_available

        env["ffmpeg_hwdevices"] = list(hwdevices_available())
    except Exception as exc:
        env["ffmpeg_hwdevices"] = f"unavailable: {exc}"
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        env["nvidia_smi"] = (smi.stdout or smi.stderr).strip()
    except Exception as exc:
        env["nvidia_smi"] = f"unavailable: {exc}"
    return env


def bench_yolo(device: str, imgsz: int, batches: list[int], budget_s: float) -> dict:
    import torch
    from ultralytics import YOLO

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from pipeline.detectors.yolo import precision

    out: dict = {"model": "yolo11n.yaml (untrained)", "imgsz": imgsz, "device": device}
    t0 = time.perf_counter()
    model = YOLO("yolo11n.yaml", task="detect")
    model.to(device)
    out["build_s"] = round(time.perf_counter() - t0, 2)
    half = device.startswith("cuda")
    out["fp16"] = half
    rng = np.random.default_rng(0)
    # analysis-size frames (640x360 BGR), as the scan hands them to a detector
    h = imgsz * 9 // 16
    pool = rng.integers(0, 255, (max(batches), h, imgsz, 3), dtype=np.uint8)

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    rows = []
    for bs in batches:
        row: dict = {"batch": bs}
        try:
            frames = list(pool[:bs])
            kw = dict(imgsz=imgsz, conf=0.25, classes=[0], device=device, verbose=False)
            kw.update(precision(device))
            for _ in range(2):  # warm-up: cudnn autotune, lazy init
                model.predict(frames, **kw)
            sync()
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < budget_s or n == 0:
                model.predict(frames, **kw)
                n += 1
            sync()
            dt = time.perf_counter() - t0
            row["predict_fps"] = round(n * bs / dt, 1)
            row["predict_ms_per_batch"] = round(1000 * dt / n, 2)
            # the network as predict runs it (Ultralytics' AutoBackend: fused, fp16 on cuda)
            net = getattr(model.predictor, "model", None) or model.model
            # the letterboxed shape predict feeds the network (height rounded up to stride 32)
            x = torch.zeros((bs, 3, -(-h // 32) * 32, imgsz), device=device)
            x = x.half() if half else x
            with torch.inference_mode():
                for _ in range(2):
                    net(x)
                sync()
                n, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < budget_s / 2 or n == 0:
                    net(x)
                    n += 1
                sync()
            dt = time.perf_counter() - t0
            row["forward_fps"] = round(n * bs / dt, 1)
            if device.startswith("cuda"):
                row["max_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        except Exception as exc:
            row["error"] = f"{type(exc).__name__}: {exc}"
        log(f"yolo batch {bs}: {row}")
        rows.append(row)
    out["batches"] = rows
    return out


def make_clip(path: Path, size: tuple[int, int], seconds: float, fps: int = 25, gop: int = 50):
    import av

    w, h = size
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    room = (60 + 80 * (yy / h) + 20 * np.sin(xx / 97.0)).astype(np.uint8)
    room = np.dstack([room, room + 10, room + 5]).astype(np.int16)
    noise = [rng.integers(-4, 5, (h, w, 1), dtype=np.int16) for _ in range(4)]
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.gop_size = gop
        s.codec_context.options = {"preset": "ultrafast", "bf": "0", "sc_threshold": "0"}
        s.time_base = Fraction(1, fps)
        n = int(seconds * fps)
        for i in range(n):
            img = room + noise[i % len(noise)]
            x = int(i / n * (w - w // 8))
            img[h // 3 : 2 * h // 3, x : x + w // 16] = 200
            frame = av.VideoFrame.from_ndarray(
                np.clip(img, 0, 255).astype(np.uint8), format="bgr24"
            )
            frame.pts = i
            out.mux(s.encode(frame))
        out.mux(s.encode())
    return path


def _decode(path: Path, mode: str, width: int) -> dict:
    import av
    from av.codec.hwaccel import HWAccel
    from av.video.reformatter import VideoReformatter

    scaler = VideoReformatter()  # one scaling context for all frames, as the sampler keeps
    kw = {}
    if mode == "nvdec":
        kw["hwaccel"] = HWAccel(device_type="cuda", allow_software_fallback=False)
    t0 = time.perf_counter()
    n = 0
    with av.open(str(path), **kw) as c:
        st = c.streams.video[0]
        st.thread_type = "AUTO"
        if mode == "keyframes":
            st.codec_context.skip_frame = "NONKEY"
        hw = None
        for frame in c.decode(st):
            if hw is None:
                hw = bool(getattr(st.codec_context, "is_hwaccel", False))
            if mode in ("scaled_640", "nvdec"):
                scaler.reformat(
                    frame,
                    width=width,
                    height=width * 9 // 16,
                    format="bgr24",
                    interpolation="BILINEAR",
                ).to_ndarray()
            n += 1
    dt = time.perf_counter() - t0
    return {"frames": n, "fps": round(n / dt, 1), "seconds": round(dt, 2), "hwaccel": hw}


def bench_end_to_end(path: Path, device: str, width: int, batch: int) -> dict:
    """The scan's own path: ``pipeline.media.sampling.sample_chunk`` (decode once, FFmpeg's scaler
    to ``width``) feeding the project's YoloDetector in batches. Two sampling rates: every
    frame (a detector's worst case) and one sample per GOP (keyframes only, the default)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from pipeline.detectors.yolo import YoloDetector
    from pipeline.inputs.config import Analysis
    from pipeline.media.probe import probe_file
    from pipeline.media.sampling import plan_chunks, sample_chunk

    detector = YoloDetector("yolo11n.yaml", device=device, batch=batch)
    probe = probe_file(path)
    out: dict = {"batch": batch, "device": device, "width": width}
    for label, every in (("every_frame", 1.0 / 25), ("one_per_gop", 2.0)):
        analysis = Analysis(sample_every_s=every, width=width, chunk_s=1e9)
        (chunk,) = plan_chunks(probe, analysis)
        t0 = time.perf_counter()
        frames = sample_chunk(path, chunk, analysis, probe).frames
        decode_s = time.perf_counter() - t0
        detector.detect(frames[:batch])  # warm-up
        t0 = time.perf_counter()
        boxes = sum(len(d.boxes) for d in detector.detect(frames))
        detect_s = time.perf_counter() - t0
        n = len(frames)
        out[label] = {
            "frames": n,
            "decode_fps": round(n / decode_s, 1),
            "detect_fps": round(n / detect_s, 1),
            "end_to_end_fps": round(n / (decode_s + detect_s), 1),
            "x_real_time": round(probe.duration_s / (decode_s + detect_s), 1),
            "untrained_boxes": boxes,
        }
    return out


def bench_decode(
    size: tuple[int, int], seconds: float, width: int, try_nvdec: bool, device: str = "cpu"
) -> dict:
    out: dict = {"clip": f"{size[0]}x{size[1]} H.264 25 fps GOP 50, {seconds:g} s"}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        t0 = time.perf_counter()
        make_clip(path, size, seconds)
        out["encode_s"] = round(time.perf_counter() - t0, 1)
        log(f"clip encoded in {out['encode_s']} s")
        try:
            out["end_to_end"] = bench_end_to_end(path, device, width, 32)
        except Exception as exc:
            out["end_to_end"] = {"error": f"{type(exc).__name__}: {exc}"}
        log(f"end to end: {out['end_to_end']}")
        modes = ["all_frames", "scaled_640", "keyframes"] + (["nvdec"] if try_nvdec else [])
        for mode in modes:
            try:
                out[mode] = _decode(path, mode, width)
            except Exception as exc:
                out[mode] = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"decode {mode}: {out[mode]}")
        if not try_nvdec:
            out["nvdec"] = {"skipped": "FFmpeg in PyAV offers no cuda hwdevice or no GPU"}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny settings on cpu (script check)")
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    outdir = Path(os.environ["OUT"]) if os.environ.get("OUT") else ROOT / "benchmarks" / "results"
    target = args.json or outdir / ("gpu_yolo_quick.json" if args.quick else "gpu_yolo.json")
    result: dict = {"script": "benchmarks/gpu_yolo.py", "quick": args.quick}
    env = environment()
    result["environment"] = env
    log(f"environment: {json.dumps(env)}")
    device = args.device or ("cuda" if env.get("cuda_available") else "cpu")
    if device.startswith("cuda") and not env.get("cuda_available"):
        log("cuda requested but torch sees no GPU: falling back to cpu")
        device = "cpu"
    if args.quick:
        imgsz, batches, budget, size, secs = 160, [1, 2], 0.5, (320, 180), 2.0
    elif device == "cpu":
        imgsz, batches, budget, size, secs = 640, [1, 8], 5.0, (1920, 1080), 10.0
    else:
        imgsz, batches, budget, size, secs = 640, [1, 8, 32, 64], 8.0, (1920, 1080), 20.0
    try:
        result["yolo"] = bench_yolo(device, imgsz, batches, budget)
    except Exception as exc:
        result["yolo"] = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
        log(f"yolo failed: {exc}")
    hw = env.get("ffmpeg_hwdevices")
    try_nvdec = bool(env.get("cuda_available")) and isinstance(hw, list) and "cuda" in hw
    try:
        result["decode"] = bench_decode(size, secs, 640, try_nvdec and not args.quick, device)
    except Exception as exc:
        result["decode"] = {
            "error": f"{type(exc).__name__}: {exc}",
            "trace": traceback.format_exc(),
        }
        log(f"decode failed: {exc}")
    result["wall_s"] = round(time.monotonic() - T_START, 1)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2))
    log(f"wrote {target}")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
