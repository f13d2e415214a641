"""Broken recordings as NVRs and careless copies produce them, crafted from a good clip."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from clipgen import write_clip


def _box(data: bytes, name: bytes) -> tuple[int, int]:
    """Offset and size of the first top-level-or-nested MP4 box called ``name``."""
    at = data.find(name) - 4
    return at, int.from_bytes(data[at : at + 4], "big")


def make_bad_recordings(folder: Path, good: Path) -> dict[str, str]:
    """Write broken variants of ``good`` into ``folder``; returns file name -> expected
    fragment of the probe's error."""
    data = good.read_bytes()
    faststart = write_clip(folder / "tmp_faststart.mp4", 12, seed=5, faststart=True).read_bytes()
    (folder / "tmp_faststart.mp4").unlink()
    moov_at, moov_size = _box(data, b"moov")
    avc1 = data.find(b"avc1", data.find(b"stsd"))  # the sample entry, not the ftyp brand
    mdhd = data.find(b"mdhd")
    zero_timescale = bytearray(data)
    zero_timescale[mdhd + 16 : mdhd + 20] = bytes(4)
    ok, jpeg = cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8))
    assert ok and avc1 > 0 and mdhd > 0
    files = {
        "zero.mp4": (b"", "empty file (0 bytes)"),
        "text.mp4": (b"camera 1 export failed\n", "not a video container"),
        "photo.mp4": (jpeg.tobytes(), "still image"),
        "nomoov.mp4": (data[:moov_at] + data[moov_at + moov_size :], "without a moov atom"),
        "cut.mp4": (data[: len(data) // 2], "without a moov atom"),
        "midgop.mp4": (faststart[: int(len(faststart) * 0.55)], "truncated"),
        "codec.mp4": (data[:avc1] + b"zzzz" + data[avc1 + 4 :], "unsupported codec"),
        "zerofps.mp4": (bytes(zero_timescale), "implausible frame rate"),
    }
    for name, (blob, _) in files.items():
        (folder / name).write_bytes(blob)
    return {name: reason for name, (_, reason) in files.items()}
