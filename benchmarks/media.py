"""Long, realistic test recordings built quickly: encode a short part, then remux it with
continuous timestamps. Cached under benchmarks/work/ (git-ignored)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

WORK = Path(__file__).resolve().parent / "work"


def encode_part(
    path: Path,
    seconds: float,
    size: tuple[int, int],
    fps: int,
    gop: int,
    codec: str = "libx264",
    seed: int = 0,
) -> Path:
    """A static room with a figure moving across it, sensor noise, and a changing overlay."""
    width, height = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    room = (60 + 80 * (yy / height) + 20 * np.sin(xx / 97.0)).astype(np.uint8)
    room = np.dstack([room, room + 10, room + 5])
    noise = [rng.integers(-4, 5, (height, width, 1), dtype=np.int16) for _ in range(8)]
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = gop
        stream.codec_context.options = {
            "preset": "ultrafast",
            "bf": "0",
            "sc_threshold": "0",
            "g": str(gop),
            "keyint_min": str(gop),
        }
        stream.time_base = Fraction(1, fps)
        n = int(seconds * fps)
        for i in range(n):
            img = room.astype(np.int16) + noise[i % len(noise)]
            x = int((i / n) * (width - width // 8))
            img[height // 3 : height // 3 + height // 3, x : x + width // 16] = (
                200 - 30 * seed % 120
            )
            frame = av.VideoFrame.from_ndarray(
                np.clip(img, 0, 255).astype(np.uint8), format="bgr24"
            )
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def tile(parts: list[Path], out_path: Path, total_s: float) -> Path:
    """Concatenate ``parts`` round-robin by remuxing packets with continuous timestamps."""
    tmp = out_path.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as out:
        stream = None
        offset = 0
        elapsed = 0.0
        index = 0
        while elapsed < total_s:
            with av.open(str(parts[index % len(parts)])) as src:
                vin = src.streams.video[0]
                if stream is None:
                    stream = out.add_stream_from_template(vin)
                last = 0
                for packet in src.demux(vin):
                    if packet.dts is None:
                        continue
                    last = max(last, packet.pts + (packet.duration or 0))
                    packet.pts += offset
                    packet.dts += offset
                    packet.stream = stream
                    out.mux(packet)
                offset += last
                elapsed = float(offset * vin.time_base)
            index += 1
    tmp.replace(out_path)
    return out_path


def long_recording(
    minutes: float = 10,
    size: tuple[int, int] = (1920, 1080),
    fps: int = 25,
    gop: int = 50,
    codec: str = "libx264",
    unique_parts: int = 3,
    part_s: float = 20.0,
) -> Path:
    """A cached recording of ``minutes``; built from ``unique_parts`` encoded parts."""
    WORK.mkdir(parents=True, exist_ok=True)
    tag = f"{size[0]}x{size[1]}_{fps}fps_gop{gop}_{codec}"
    path = WORK / f"room_{tag}_{minutes:g}min.mp4"
    if path.is_file():
        return path
    parts = [
        encode_part(WORK / f"part_{tag}_{i}.mp4", part_s, size, fps, gop, codec, seed=i)
        if not (WORK / f"part_{tag}_{i}.mp4").is_file()
        else WORK / f"part_{tag}_{i}.mp4"
        for i in range(unique_parts)
    ]
    return tile(parts, path, minutes * 60)
