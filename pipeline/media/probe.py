"""Probe: one packet-level pass per file (no decoding) -> :class:`FileProbe`.

Packets carry everything coverage needs: timestamps (gaps, duration, frame rate), key flags
(GOP length, where chunks may be cut) and sizes. Decoding would cost 100x more.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import av
import numpy as np

from pipeline.errors import RecordingError
from pipeline.records import FileProbe, TimeGap

# A pts step is a gap when it exceeds both of these: NVRs jitter by a frame or two.
GAP_MIN_S = 0.5
GAP_MIN_FRAMES = 3.0
MAX_SANE_SIDE = 16384
MIN_SANE_FPS = 0.5
STILL_IMAGE_FORMATS = ("image2", "jpeg_pipe", "png_pipe", "bmp_pipe", "webp_pipe", "gif")
HASH_BLOCK = 1 << 20


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _creation_time(container: av.container.InputContainer) -> datetime | None:
    for meta in (container.metadata, *(s.metadata for s in container.streams)):
        value = meta.get("creation_time")
        if value:
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            if parsed.tzinfo is not None and parsed.year > 1970:
                return parsed
    return None


def probe_file(
    path: Path,
    camera_id: str | None = None,
    start: datetime | None = None,
    *,
    sha256: str | None = None,
) -> FileProbe:
    """Probe one recording. Never raises for a bad file: the reason goes into ``error``.

    ``start`` comes from the manifest or file name; when missing, the container's
    ``creation_time`` tag is used.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return failed_probe(path, camera_id, start, f"cannot read file: {exc.strerror or exc}")
    # the hash runs in a thread over the same bytes while the packets are demuxed (both
    # release the GIL), so a probe costs max(hash, demux), not their sum
    with ThreadPoolExecutor(max_workers=1) as pool:
        hashing = pool.submit(sha256_file, path) if sha256 is None else None
        base = {"path": path, "sha256": sha256 or "", "size_bytes": size, "camera_id": camera_id}
        try:
            probe = _probe_packets(path, base, start) if size else None
            problem = None if size else "empty file (0 bytes)"
        except RecordingError as exc:
            probe, problem = None, exc.reason
        try:
            digest = sha256 or hashing.result()  # type: ignore[union-attr]
        except OSError as exc:
            return failed_probe(path, camera_id, start, f"cannot read file: {exc.strerror or exc}")
    if probe is None:
        return failed_probe(path, camera_id, start, str(problem), digest, size)
    return replace(probe, sha256=digest)


def failed_probe(
    path: Path,
    camera_id: str | None,
    start: datetime | None,
    reason: str,
    sha256: str = "",
    size_bytes: int = 0,
) -> FileProbe:
    """A file with no usable video: what is known of it, and why."""
    return FileProbe(
        path=path,
        sha256=sha256,
        size_bytes=size_bytes,
        camera_id=camera_id,
        start=start,
        duration_s=0.0,
        container=None,
        codec=None,
        width=None,
        height=None,
        fps=None,
        keyframe_interval_s=None,
        error=reason,
    )


def _mp4_without_moov(path: Path) -> bool:
    """An MP4 whose index (moov atom) never got written: the NVR stopped mid-recording."""
    with open(path, "rb") as fh:
        if fh.read(12)[4:8] != b"ftyp":
            return False
        fh.seek(0)
        tail = b""
        while block := fh.read(HASH_BLOCK):
            if b"moov" in tail + block:
                return False
            tail = block[-3:]
    return True


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.error.InvalidDataError:
        if _mp4_without_moov(path):
            raise RecordingError(
                path, "MP4 without a moov atom (index missing: recording cut off or unfinished)"
            ) from None
        raise RecordingError(path, "not a video container FFmpeg can read (invalid data)") from None
    except av.error.FFmpegError as exc:
        raise RecordingError(path, f"cannot open container: {exc}") from None


def _header_problem(
    codec: str | None,
    fmt: str | None,
    width: int,
    height: int,
    fps: float | None,
    packets: int,
    stream: av.video.stream.VideoStream,
) -> str | None:
    """Why a stream that demuxes is still no usable recording, or None."""
    if codec is None or codec == "none":
        tag = getattr(stream.codec_context, "codec_tag", None) if stream.codec_context else None
        return f"unsupported codec{f' {tag!r}' if tag else ''}: FFmpeg has no decoder for it"
    try:
        av.codec.Codec(codec, "r")
    except Exception:
        return f"unsupported codec {codec!r}: FFmpeg has no decoder for it"
    if (fmt or "").split(",")[0] in STILL_IMAGE_FORMATS:
        return f"not a video recording: a still image ({fmt}, {codec})"
    if not width or not height or width > MAX_SANE_SIDE or height > MAX_SANE_SIDE:
        return f"implausible picture size {width}x{height} in the stream header"
    if fps is None or not (MIN_SANE_FPS <= fps <= 1000):
        return f"implausible frame rate {fps!r} (broken timestamps or time base)"
    if packets < 2:
        return f"not a video recording: only {packets} frame"
    return None


def _probe_packets(path: Path, base: dict, start: datetime | None) -> FileProbe:
    with _open(path) as container:
        if not container.streams.video:
            raise RecordingError(path, "no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        codec = ctx.name if ctx is not None else None
        width, height = (ctx.width, ctx.height) if ctx is not None else (0, 0)
        if start is None:
            start = _creation_time(container)
        fmt = container.format.name.split(",")[0] if container.format else None
        tb = float(stream.time_base) if stream.time_base else None
        if not tb:
            raise RecordingError(path, "video stream has no time base")
        pts_list: list[int] = []
        key_list: list[int] = []
        dur_list: list[int] = []
        read_error: str | None = None
        reordered = False
        try:
            for packet in container.demux(stream):
                dts = packet.dts
                if packet.pts is None:
                    if dts is None:
                        continue  # flush packet
                    pts = dts
                else:
                    pts = packet.pts
                    reordered = reordered or (dts is not None and dts != pts)
                pts_list.append(pts)
                key_list.append(packet.is_keyframe)
                dur_list.append(packet.duration or 0)
        except av.error.FFmpegError as exc:
            read_error = f"read error after {len(pts_list)} packets: {exc}"
        declared = float(stream.duration * tb) if stream.duration else None
        if declared is None and container.duration:
            declared = container.duration / 1_000_000
        has_audio = bool(container.streams.audio)
    if not pts_list:
        raise RecordingError(path, read_error or "no video packets")
    pts = np.asarray(pts_list, dtype=np.int64)
    order = np.argsort(pts, kind="stable")
    t = (pts[order] - pts[order[0]]) * tb
    keys = np.asarray(key_list, dtype=bool)[order]
    steps = np.diff(t)
    positive = steps[steps > 0]
    frame_s = float(np.median(positive)) if len(positive) else 0.0
    fps = 1.0 / frame_s if frame_s > 0 else None
    if fps is None and stream.average_rate:
        fps = float(stream.average_rate)
    last_dur = (np.asarray(dur_list)[order][-1] * tb) if dur_list else 0.0
    duration = float(t[-1] + (last_dur or frame_s))
    threshold = max(GAP_MIN_S, GAP_MIN_FRAMES * frame_s)
    gaps = tuple(
        TimeGap(at_s=float(t[i] + frame_s), gap_s=float(steps[i] - frame_s))
        for i in np.flatnonzero(steps > threshold)
    )
    key_t = t[keys]
    key_interval = float(np.median(np.diff(key_t))) if len(key_t) > 1 else None
    error = _header_problem(codec, fmt, width, height, fps, len(pts_list), stream)
    partial = False
    if error is None and read_error is not None:
        error, partial = f"damaged: {read_error}", True
    elif error is None and declared is not None and declared - duration > max(2.0, 3 * frame_s):
        error = f"truncated: {duration:.1f} s of video readable, header declares {declared:.1f} s"
        partial = True
    return FileProbe(
        **base,
        start=start,
        duration_s=duration,
        container=fmt,
        codec=codec,
        width=width or None,
        height=height or None,
        fps=round(fps, 3) if fps else None,
        keyframe_interval_s=key_interval,
        keyframes_s=tuple(float(k) for k in key_t),
        gaps=gaps,
        frame_count=len(pts_list),
        has_audio=has_audio,
        error=error,
        partial=partial,
        reordered=reordered,
    )
