"""The sampled frames every analyser reads: decoded once, already scaled down."""

from __future__ import annotations

from dataclasses import dataclass, field

import av
import numpy as np
from av.video.reformatter import VideoReformatter

# swscale method: area averaging is both the right filter for a large downscale (it averages
# sensor noise the same way at every scale) and, measured on 1080p, faster than bilinear
INTERPOLATION = "AREA"


@dataclass(frozen=True, eq=False)
class FrameBatch:
    """Consecutive samples of one time chunk of one file.

    ``frames`` is uint8 ``(N, H, W, 3)`` BGR at the analysis width (FFmpeg scaled it while
    decoding); ``t_s`` holds each sample's offset in the file in seconds. ``prev`` is the last
    sample of the previous chunk, if known, so frame-difference signals do not restart.
    ``clock`` holds small luma crops for clock OCR (see :mod:`pipeline.media.sampling`).
    """

    source_file: str
    t_s: np.ndarray
    frames: np.ndarray
    full_size: tuple[int, int]  # (width, height) of the recording
    prev: np.ndarray | None = None
    # native-resolution luma crops (N, h, w) for OCR of the burned-in clock: the camera's
    # ``clock_region`` when it was given to the sampler, else top and bottom bands stacked
    clock: np.ndarray | None = None
    clock_region: tuple[float, float, float, float] | None = None
    # per sample: the decoder marked it a keyframe (an I/IDR picture carries fresh sensor
    # noise; P-frames of a still scene copy their reference's). None: not known
    keyframe: np.ndarray | None = None
    _gray: list[np.ndarray] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.t_s)

    @property
    def gray(self) -> np.ndarray:
        """Luma ``(N, H, W)`` uint8, computed once and shared by the analysers."""
        if not self._gray:
            import cv2

            if len(self.frames):
                g = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in self.frames])
            else:
                g = np.zeros((0, 1, 1), np.uint8)
            self._gray.append(g)
        return self._gray[0]


class Scaler:
    """FFmpeg's scaler (swscale) with its context kept across frames.

    ``frame.to_ndarray(width=..., ...)`` builds a new scaling context for every frame, and
    setting one up (its filter tables) costs several times the scaling itself; one
    ``VideoReformatter`` per pass reuses it while size and format stay the same.
    """

    def __init__(self) -> None:
        self._reformatter = VideoReformatter()

    def __call__(self, frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
        scaled = self._reformatter.reformat(
            frame, width=width, height=height, format="bgr24", interpolation=INTERPOLATION
        )
        return scaled.to_ndarray()


def scaled_size(width: int, height: int, target: int) -> tuple[int, int]:
    w = min(int(target), int(width)) if width else int(target)
    h = round(w * height / width) if width else w
    return max(w, 2), max(h, 2)
