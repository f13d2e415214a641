"""Small media helpers shared by clips, thumbnails and contact sheets.

Frames are decoded with PyAV and scaled by FFmpeg's scaler (``frame.reformat``), never as
full-resolution arrays; files are written atomically (temp file in the same folder, then
``os.replace``) so a crash never leaves half a clip that a re-run would skip.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from datetime import datetime, tzinfo
from pathlib import Path

import av
import cv2
import numpy as np

from pipeline.inputs.config import Polygon

PROCTOR_COLOUR = (60, 60, 230)  # BGR red
STATION_COLOUR = (230, 150, 40)  # BGR blue
CANDIDATE_COLOUR = (200, 70, 170)  # BGR purple
PERSON_COLOUR = (60, 220, 60)  # BGR green
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temp path next to ``target``; rename it into place only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; evidence is shared read-only
        os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def write_jpeg(image: np.ndarray, target: Path, quality: int = 85) -> None:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"cannot encode JPEG for {target}")
    with atomic_path(target) as tmp:
        tmp.write_bytes(buf.tobytes())


def scaled_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """Even-sided size no wider than ``max_width`` with the same aspect ratio."""
    if width <= max_width:
        w, h = width, height
    else:
        w, h = max_width, round(height * max_width / width)
    return max(2, w - w % 2), max(2, h - h % 2)


def grab_frames(
    path: Path, offsets_s: Sequence[float], max_width: int = 640
) -> list[tuple[float, np.ndarray] | None]:
    """Decode the frame shown at each file offset (seconds from the first video packet).

    Returns ``(actual_offset, bgr)`` per request, or ``None`` where no frame could be
    decoded (offset past the end, corrupt data). Each request seeks to the keyframe before it.
    """
    results: list[tuple[float, np.ndarray] | None] = [None] * len(offsets_s)
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError:
        return results
    with container:
        if not container.streams.video:
            return results
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = stream.time_base
        base = stream.start_time or 0
        size = None
        for i in sorted(range(len(offsets_s)), key=lambda k: offsets_s[k]):
            target = max(0.0, float(offsets_s[i]))
            try:
                container.seek(base + int(target / tb), backward=True, stream=stream)
                best = None
                for frame in container.decode(stream):
                    if frame.pts is None:
                        continue
                    t = float((frame.pts - base) * tb)
                    if size is None:
                        size = scaled_size(frame.width, frame.height, max_width)
                    if best is not None and t > target + 1e-3:
                        break
                    best = (t, frame)
                    if t >= target - 1e-3:
                        break
                if best is not None:
                    img = best[1].reformat(width=size[0], height=size[1], format="bgr24")
                    results[i] = (best[0], img.to_ndarray())
            except (av.error.FFmpegError, ValueError):
                results[i] = None
    return results


def draw_polygon(
    img: np.ndarray, polygon: Polygon, colour: tuple[int, int, int], label: str
) -> None:
    h, w = img.shape[:2]
    pts = np.array([[x * (w - 1), y * (h - 1)] for x, y in polygon], np.int32)
    overlay = img.copy()
    cv2.fillPoly(overlay, [pts], colour)
    cv2.addWeighted(overlay, 0.15, img, 0.85, 0, dst=img)
    cv2.polylines(img, [pts], True, colour, 2, cv2.LINE_AA)
    x, y = pts[:, 0].min() + 4, pts[:, 1].min() + 16
    cv2.putText(
        img, label, (int(x), int(y)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA
    )


def draw_boxes(img: np.ndarray, boxes_xyxy: np.ndarray, scores: np.ndarray) -> None:
    """Draw normalised ``xyxy`` person boxes."""
    h, w = img.shape[:2]
    for box, score in zip(boxes_xyxy, scores, strict=False):
        x1, y1, x2, y2 = (int(v) for v in box * np.array([w, h, w, h]))
        cv2.rectangle(img, (x1, y1), (x2, y2), PERSON_COLOUR, 2, cv2.LINE_AA)
        cv2.putText(
            img,
            f"person {score:.2f}",
            (x1, max(12, y1 - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            PERSON_COLOUR,
            1,
            cv2.LINE_AA,
        )


def caption(
    img: np.ndarray, lines: Sequence[str], colour: tuple[int, int, int] = (255, 255, 255)
) -> np.ndarray:
    """Return ``img`` with a dark band underneath carrying ASCII ``lines`` (ids, times, kinds)."""
    w = img.shape[1]
    band = np.full((18 * len(lines) + 8, w, 3), 24, np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(
            band,
            _ascii(line),
            (6, 18 + 18 * i),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            colour,
            1,
            cv2.LINE_AA,
        )
    return np.vstack([img, band])


def card(
    size: tuple[int, int], lines: Sequence[str], colour: tuple[int, int, int] = (40, 40, 160)
) -> np.ndarray:
    """A generated placeholder picture for moments with no video at all."""
    w, h = size
    img = np.full((h, w, 3), 40, np.uint8)
    cv2.rectangle(img, (4, 4), (w - 5, h - 5), colour, 3)
    cv2.line(img, (4, 4), (w - 5, h - 5), (70, 70, 70), 1, cv2.LINE_AA)
    cv2.line(img, (w - 5, 4), (4, h - 5), (70, 70, 70), 1, cv2.LINE_AA)
    for i, line in enumerate(lines):
        scale = 0.8 if i == 0 else 0.5
        cv2.putText(
            img,
            _ascii(line),
            (16, 40 + 30 * i),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            2 if i == 0 else 1,
            cv2.LINE_AA,
        )
    return img


def stamp(t: datetime | None, tz: tzinfo | None = None) -> str:
    """``2022-03-15 08:30:00 Asia/Shanghai`` (UTC when no zone is given)."""
    if t is None:
        return "?"
    if tz is None:
        return t.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{t.astimezone(tz).strftime('%Y-%m-%d %H:%M:%S')} {getattr(tz, 'key', tz)}"


def _ascii(text: str) -> str:
    """OpenCV's Hershey fonts draw ASCII only; replace the rest rather than draw '?' boxes."""
    return text.encode("ascii", "replace").decode("ascii")
