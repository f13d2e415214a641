"""Tiny synthetic recordings for foundation tests (small, fast, deterministic)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def write_clip(
    path: Path,
    seconds: float,
    *,
    fps: int = 15,
    size: tuple[int, int] = (320, 180),
    gop_s: float = 2.0,
    jump_at_s: float | None = None,
    jump_s: float = 0.0,
    seed: int = 0,
    faststart: bool = False,
) -> Path:
    """A noisy static scene; optionally a presentation-timestamp jump (missing footage)."""
    width, height = size
    rng = np.random.default_rng(seed)
    base = np.full((height, width, 3), 90, np.uint8)
    base[height // 3 :, : width // 2] = 140
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = int(gop_s * fps)
        stream.codec_context.options = {"preset": "ultrafast", "threads": "1"}
        stream.time_base = Fraction(1, fps)
        for i in range(int(seconds * fps)):
            noise = rng.integers(-3, 4, base.shape, dtype=np.int16)
            frame = av.VideoFrame.from_ndarray(
                np.clip(base + noise, 0, 255).astype(np.uint8), format="bgr24"
            )
            shift = int(jump_s * fps) if jump_at_s is not None and i >= jump_at_s * fps else 0
            frame.pts = i + shift
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


SCHEDULE_HEADER = (
    "session_id,centre_id,room_id,camera_id,exam_type,subject,"
    "scheduled_start,scheduled_end,candidates,proctors_required\n"
)
