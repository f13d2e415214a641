"""Decode-once sampling: one pass per (file, chunk), only the frames analysis needs, scaled.

Samples sit on a grid anchored at the file's start: a frame is kept when it is the first one
decoded in its ``sample_every_s`` bucket, so chunks cut anywhere give the same samples as one
pass over the whole file. When the sampling interval is at least the keyframe interval, only
keyframes are decoded (``skip_frame = "NONKEY"``; non-key packets are discarded by the demuxer
or skipped before the decoder); otherwise every frame is decoded from each keyframe up to the
GOP's last sample (P/B frames need their references) and every k-th is kept; the rest of the
GOP is not decoded.
Frames are scaled to ``analysis.width`` by swscale inside PyAV; full-resolution pixels never
become numpy arrays, except a small crop of the luma plane around the burned-in clock, kept at
native resolution because OCR cannot read digits at analysis size.

Bad input: a file that cannot be opened or has no video stream raises
:class:`~pipeline.errors.RecordingError`. Packets that fail to decode inside a chunk are skipped
and the samples decoded so far are returned; a chunk that yields no frame at all although
packets failed raises ``RecordingError`` naming the first decoder error.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from pipeline.errors import RecordingError
from pipeline.inputs.config import Analysis
from pipeline.media.frames import FrameBatch, Scaler, scaled_size
from pipeline.records import FileProbe

# without a configured clock region, keep these bands (top and bottom) for OCR to search
CLOCK_BAND = 0.12
CLOCK_MAX_WIDTH = 1280  # wider luma crops are decimated by an integer stride
_EPS = 1e-6
_KEY_SLACK = 1e-3  # probe and sampler count file seconds from the same first pts
_LUMA_FORMATS = ("yuv", "nv12", "nv21", "gray")


@dataclass(frozen=True)
class Chunk:
    """A time chunk of one file, ``[start_s, end_s)`` in file seconds, cut at keyframes."""

    index: int
    start_s: float
    end_s: float


def keyframe_interval(probe: FileProbe) -> float | None:
    """The GOP length sampling can rely on: a high quantile of keyframe spacing, not the median,
    so a file with irregular GOPs falls back to decoding every frame."""
    keys = np.asarray(probe.keyframes_s, dtype=np.float64)
    if len(keys) >= 2:
        steps = np.diff(np.sort(keys))
        steps = steps[steps > _EPS]
        if len(steps):
            return float(np.quantile(steps, 0.9))
    return probe.keyframe_interval_s


def plan_chunks(probe: FileProbe, analysis: Analysis) -> list[Chunk]:
    """Cut a file into chunks of about ``analysis.chunk_s``, each starting on a keyframe.

    Without keyframe information the cuts fall on the plain grid (a seek then lands on the
    keyframe before the cut, which costs a little decoding but gives the same samples). A tail
    shorter than a quarter chunk is merged into the previous chunk.
    """
    duration = float(probe.duration_s)
    if duration <= 0:
        return []
    size = float(analysis.chunk_s)
    keys = np.sort(np.asarray(probe.keyframes_s, dtype=np.float64))
    cuts = [0.0]
    while True:
        target = cuts[-1] + size
        if target >= duration - 0.25 * size:
            break
        if len(keys):
            later = keys[keys > cuts[-1] + 0.5 * size]
            if not len(later):
                break
            cut = float(later[np.argmin(np.abs(later - target))])
            if cut >= duration - 0.25 * size:
                break
        else:
            cut = target
        cuts.append(cut)
    ends = [*cuts[1:], duration]
    return [Chunk(i, a, b) for i, (a, b) in enumerate(zip(cuts, ends, strict=True))]


def _clock_box(
    region: tuple[float, float, float, float] | None, width: int, height: int
) -> tuple[list[tuple[int, int, int, int]], int]:
    """Pixel boxes ``(x0, y0, x1, y1)`` of the luma crops to keep, and their decimation stride."""
    if region is not None:
        x, y, w, h = region
        boxes = [(int(x * width), int(y * height), int((x + w) * width), int((y + h) * height))]
    else:
        band = max(2, round(CLOCK_BAND * height))
        boxes = [(0, 0, width, band), (0, height - band, width, height)]
    widest = max(b[2] - b[0] for b in boxes)
    return boxes, max(1, math.ceil(widest / CLOCK_MAX_WIDTH))


def _luma_crop(frame: av.VideoFrame, boxes, stride: int) -> np.ndarray | None:
    """The clock crop from the decoder's own luma plane: a view, then a small copy."""
    name = frame.format.name
    if not name.startswith(_LUMA_FORMATS) or name.endswith(("le", "be")):
        return None  # high bit depth or RGB: no 8-bit luma plane to read directly
    plane = frame.planes[0]
    luma = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    parts = [luma[y0:y1:stride, x0:x1:stride] for x0, y0, x1, y1 in boxes]
    return np.ascontiguousarray(np.vstack(parts))


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), metadata_errors="ignore")
    except FileNotFoundError:
        raise RecordingError(path, "file not found") from None
    except av.error.FFmpegError as exc:
        raise RecordingError(path, f"cannot open container: {exc}") from None


@dataclass
class _Video:
    """A recording's video stream, opened once: sizes, time base and seeking in file seconds.
    The one open-and-seek path for sampling and for refinement's windows."""

    path: Path
    container: av.container.InputContainer
    stream: av.video.stream.VideoStream
    full_w: int
    full_h: int
    out_w: int
    out_h: int
    tbf: float
    first_pts: int

    def t_of(self, pts: int) -> float:
        return (pts - self.first_pts) * self.tbf

    def seek(self, t_s: float) -> None:
        """To the keyframe at or before ``t_s`` (file seconds)."""
        if t_s <= 0:
            return
        try:
            self.container.seek(
                int(t_s / self.tbf) + self.first_pts, stream=self.stream, backward=True
            )
        except av.error.FFmpegError as exc:
            raise RecordingError(self.path, f"cannot seek to {t_s:.1f} s: {exc}") from None


@contextmanager
def _video(path: Path, width: int, probe: FileProbe | None = None) -> Iterator[_Video]:
    with _open(path) as container:
        if not container.streams.video:
            raise RecordingError(path, "no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        full_w = int(ctx.width or (probe.width if probe else 0) or 0)
        full_h = int(ctx.height or (probe.height if probe else 0) or 0)
        if full_w <= 0 or full_h <= 0:
            raise RecordingError(path, f"implausible picture size {full_w}x{full_h}")
        if stream.time_base is None:
            raise RecordingError(path, "video stream has no time base")
        out_w, out_h = scaled_size(full_w, full_h, width)
        first_pts = stream.start_time if stream.start_time is not None else 0
        yield _Video(
            path,
            container,
            stream,
            full_w,
            full_h,
            out_w,
            out_h,
            float(stream.time_base),
            first_pts,
        )


def sample_chunk(
    path: Path,
    chunk: Chunk,
    analysis: Analysis,
    probe: FileProbe,
    *,
    clock_region: tuple[float, float, float, float] | None = None,
) -> FrameBatch:
    """Decode one chunk once and return its samples, scaled to ``analysis.width``.

    ``t_s`` is each sample's offset in the file (pts minus the stream's first pts). ``prev`` is
    the sample just before the chunk (decoded from one sampling step earlier) so frame
    differences do not restart at chunk borders. ``clock_region`` (normalised x, y, w, h; the
    camera's ``clock_region``) selects the native-resolution luma crop kept for OCR; without
    it the top and bottom bands are kept for the clock to be located automatically.
    """
    path = Path(path)
    every = float(analysis.sample_every_s)
    gop = keyframe_interval(probe)
    keyframes_only = gop is not None and every >= gop - 1e-3
    last_chunk = chunk.end_s >= probe.duration_s - _EPS
    deadline = time.monotonic() + float(analysis.file_timeout_s)
    with _video(path, analysis.width, probe) as video:
        container, stream = video.container, video.stream
        ctx = stream.codec_context
        full_w, full_h, out_w, out_h = video.full_w, video.full_h, video.out_w, video.out_h
        boxes, stride = _clock_box(clock_region, full_w, full_h)
        if keyframes_only:
            ctx.skip_frame = "NONKEY"
            if not probe.reordered:
                # and the demuxer drops non-key packets itself where it can (MP4/MOV): 49 of
                # every 50 packets of a GOP-50 file never become Python objects (the packet
                # check below stays for containers that ignore this). Not with B-frames: the
                # MP4 demuxer then gives the packets it keeps the wrong pts
                stream.discard = av.stream.Discard.nonkey
        video.seek(max(0.0, chunk.start_s - every) if chunk.start_s > 0 else 0.0)

        scale = Scaler()
        times: list[float] = []
        frames: list[np.ndarray] = []
        crops: list[np.ndarray | None] = []
        keys: list[bool] = []
        prev: np.ndarray | None = None
        last_bucket: int | None = None
        first_error: str | None = None
        errors = 0
        done = False

        def keep(frame: av.VideoFrame) -> bool:
            """Store ``frame`` if it opens a new bucket; False once past the chunk's end."""
            nonlocal last_bucket, prev
            pts = frame.pts if frame.pts is not None else frame.dts
            if pts is None:
                return True
            t = video.t_of(pts)
            if not last_chunk and t >= chunk.end_s - _EPS:
                return False
            bucket = math.floor(t / every + _EPS)
            if bucket == last_bucket:
                return True
            last_bucket = bucket
            image = scale(frame, out_w, out_h)
            if t < chunk.start_s - _EPS:
                prev = image
                return True
            times.append(t)
            frames.append(image)
            crops.append(_luma_crop(frame, boxes, stride))
            keys.append(bool(frame.key_frame) or int(frame.pict_type) == 1)
            return True

        key_times = np.sort(np.asarray(probe.keyframes_s, dtype=np.float64))

        def tail_of_gop(packet: av.Packet) -> bool:
            """A non-key packet after this GOP's last sample: the next bucket opens at or
            after the next keyframe, so nothing decoded before that keyframe is needed (in a
            10 s GOP sampled every 2 s, its last 2 s)."""
            if last_bucket is None or packet.pts is None or not len(key_times):
                return False
            t_pkt = video.t_of(packet.pts)
            if math.floor(t_pkt / every + _EPS) > last_bucket:
                return False  # its bucket is not sampled yet (or the output lags behind)
            later = np.searchsorted(key_times, t_pkt + _EPS, side="right")
            return (
                later < len(key_times)
                and (last_bucket + 1) * every >= key_times[later] - _KEY_SLACK
            )

        try:
            for packet in container.demux(stream):
                if (
                    packet.size
                    and not packet.is_keyframe
                    and (keyframes_only or tail_of_gop(packet))
                ):
                    continue
                if keyframes_only and packet.pts is not None and packet.size:
                    # a keyframe past the chunk, or in an already sampled bucket, is not decoded
                    t_pkt = video.t_of(packet.pts)
                    if not last_chunk and t_pkt >= chunk.end_s - _EPS:
                        break
                    if math.floor(t_pkt / every + _EPS) == last_bucket:
                        continue
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError as exc:
                    errors += 1
                    first_error = first_error or str(exc)
                    continue
                for frame in decoded:
                    if not keep(frame):
                        done = True
                        break
                if done:
                    break
                if time.monotonic() > deadline:
                    raise RecordingError(
                        path,
                        f"decoding chunk {chunk.index} took longer than "
                        f"{analysis.file_timeout_s:.0f} s (analysis.file_timeout_s)",
                    )
        except av.error.FFmpegError as exc:  # demuxer gave up: truncated or corrupt tail
            errors += 1
            first_error = first_error or str(exc)
        try:  # frames the decoder still holds (reordering delay, frame threads)
            for frame in ctx.decode(None):
                if not keep(frame):
                    break
        except av.error.FFmpegError:
            pass
    if not frames and errors:
        raise RecordingError(
            path,
            f"no decodable frame in {chunk.start_s:.1f}-{chunk.end_s:.1f} s "
            f"({errors} packet errors, first: {first_error})",
        )
    stacked = np.stack(frames) if frames else np.zeros((0, out_h, out_w, 3), np.uint8)
    clock = None
    if crops and all(c is not None for c in crops):
        clock = np.stack(crops)  # type: ignore[arg-type]
    return FrameBatch(
        source_file=path.name,
        t_s=np.asarray(times, dtype=np.float64),
        frames=stacked,
        full_size=(full_w, full_h),
        prev=prev,
        clock=clock,
        clock_region=clock_region,
        keyframe=np.asarray(keys, dtype=bool),
    )


def decode_window(
    path: Path,
    start_s: float,
    end_s: float,
    *,
    width: int,
    step_s: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Every frame (or one per ``step_s``) of ``[start_s, end_s]``, scaled: for refinement.

    Seeks to the keyframe before ``start_s`` and decodes just the GOPs up to ``end_s``.
    Returns ``(t_s, frames)``; frames that fail to decode are skipped.
    """
    path = Path(path)
    scale = Scaler()
    times: list[float] = []
    frames: list[np.ndarray] = []
    with _video(path, width) as video:
        out_w, out_h = video.out_w, video.out_h
        video.seek(start_s)
        last = -math.inf
        try:
            for packet in video.container.demux(video.stream):
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError:
                    continue
                stop = False
                for frame in decoded:
                    if frame.pts is None:
                        continue
                    t = video.t_of(frame.pts)
                    if t > end_s + _EPS:
                        stop = True
                        break
                    if t < start_s - _EPS or t - last < step_s - _EPS:
                        continue
                    last = t
                    times.append(t)
                    frames.append(scale(frame, out_w, out_h))
                if stop:
                    break
        except av.error.FFmpegError:
            pass
    stacked = np.stack(frames) if frames else np.zeros((0, out_h, out_w, 3), np.uint8)
    return np.asarray(times, dtype=np.float64), stacked
