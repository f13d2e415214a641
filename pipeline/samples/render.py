"""Encoding: NVR-like H.264 MP4 segments written with PyAV, byte-stable for a given input.

libx264 runs single-threaded with a fixed GOP (no scene cuts), so the same frames always give
the same bytes. Presentation timestamps can jump (``pts``) to simulate an NVR that lost time
inside a file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from pipeline.samples.clock import CLOCK_REGION, burn_clock
from pipeline.samples.scene import Scene, black_frame

DEFAULT_FPS = 15
DEFAULT_GOP_S = 2.0
DEFAULT_CRF = 34
DEFAULT_PRESET = "ultrafast"
# A QP floor: CRF alone drops the QP on static content (a frozen feed) and spends bits
# re-coding the same picture; real NVRs run at a fixed quality.
DEFAULT_X264_PARAMS = "qpmin=32:cabac=1"


def write_clip(
    path: Path,
    frames: Iterable[np.ndarray],
    *,
    fps: int = DEFAULT_FPS,
    gop_s: float = DEFAULT_GOP_S,
    size: tuple[int, int] | None = None,
    pts: Iterable[int] | None = None,
    crf: int = DEFAULT_CRF,
    preset: str = DEFAULT_PRESET,
    x264_params: str = DEFAULT_X264_PARAMS,
    creation_time: datetime | None = None,
    codec: str = "libx264",
    threads: int = 1,
) -> Path:
    """Encode ``frames`` to an H.264/yuv420p MP4 at ``path``.

    Frames are either I420 arrays of shape (h*3/2, w) (what Scene.render gives) or BGR arrays
    (h, w, 3). ``size`` = (width, height) defaults to the first frame's. ``pts`` gives each
    frame's presentation time in frame ticks (1/fps); default 0, 1, 2, ... A jump in ``pts``
    leaves a hole in the file's timeline (a timestamp discontinuity). ``creation_time`` (UTC) is
    written to the container so tools can fall back on it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame_iter = iter(frames)
    pts_iter: Iterator[int] | None = iter(pts) if pts is not None else None
    first = next(frame_iter, None)
    if first is None:
        raise ValueError(f"{path}: no frames to encode")
    if size is None:
        size = (
            (first.shape[1], first.shape[0] * 2 // 3)
            if first.ndim == 2
            else (first.shape[1], first.shape[0])
        )
    width, height = size
    gop = max(1, round(gop_s * fps))
    with av.open(str(path), "w", format="mp4") as container:
        if creation_time is not None:
            container.metadata["creation_time"] = creation_time.astimezone(UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.000000Z"
            )
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        stream.codec_context.thread_count = threads
        if codec == "libx265":  # benchmarks: H.265 NVR exports
            stream.options = {
                "crf": str(crf),
                "preset": preset,
                "x265-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:pools={threads}"
                ":frame-threads=1:log-level=error",
            }
        else:
            stream.options = {
                "crf": str(crf),
                "preset": preset,
                "threads": str(threads),
                "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:threads={threads}"
                + (f":{x264_params}" if x264_params else ""),
            }

        def encode(array: np.ndarray, index: int) -> None:
            if array.ndim == 2 and height % 4 == 0:
                # x264 copies its input, so the array's buffer can be lent (no copy)
                buffer = np.ascontiguousarray(array)
                frame = av.VideoFrame.from_numpy_buffer(buffer, format="yuv420p")
            elif array.ndim == 2:  # chroma rows straddle lines: let PyAV copy plane by plane
                frame = av.VideoFrame.from_ndarray(array, format="yuv420p")
            else:
                frame = av.VideoFrame.from_ndarray(array, format="bgr24")
            if frame.width != width or frame.height != height:
                got = f"{frame.width}x{frame.height}"
                raise ValueError(f"{path}: frame {index} is {got}, expected {width}x{height}")
            frame.pts = next(pts_iter) if pts_iter is not None else index
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)

        encode(first, 0)
        for index, array in enumerate(frame_iter, start=1):
            encode(array, index)
        for packet in stream.encode():
            container.mux(packet)
    return path


@dataclass(frozen=True)
class Shot:
    """What one output frame shows: scene frame ``scene_index`` of ``scene`` (or black), and
    the NVR clock reading ``clock`` (local time, None for no clock)."""

    scene: Scene | None  # None renders a black frame (covered lens / video loss)
    scene_index: int
    clock: datetime | None
    shift: np.ndarray | None = None  # 2x3 affine: camera turned
    black_seed: int = 0


def render_shots(
    shots: Sequence[Shot], size: tuple[int, int], clock_region=CLOCK_REGION
) -> Iterator[np.ndarray]:
    """I420 frames for a list of shots, with the clock burned in last (as an NVR does)."""
    width, height = size
    for i, shot in enumerate(shots):
        if shot.scene is None:
            frame = black_frame(width, height, i, seed=shot.black_seed)
        else:
            frame = shot.scene.render(shot.scene_index, shot.shift)
        if shot.clock is not None:
            burn_clock(frame, shot.clock, clock_region)
        yield frame
