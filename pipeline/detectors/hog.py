"""OpenCV's HOG + linear SVM people detector (Dalal & Triggs): offline, no weights to fetch.

Its window is 64x128 px with a person about 96 px tall inside, so people smaller than that are
missed: frames narrower than ``min_width`` are upscaled before detection (the analysis frames
are small on purpose; see benchmarks/eval_people.py for the measured effect). The window also
carries a margin around the person; ``tight`` trims it so box bottoms sit at the feet, which is
what zone membership by bottom-centre needs and what IoU against tight ground truth expects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.detectors import PERSON_CLASS, Detections

# Margin of the 64x128 training window around the person, as fractions of the window
# (about 14 px left/right, 12 px above the head, 18 px below the feet). Measured as the median
# offset between raw HOG boxes and ground-truth boxes on the TUD clips (benchmarks/eval_people.py).
_TRIM_LEFT = _TRIM_RIGHT = 14 / 64
_TRIM_TOP = 12 / 128
_TRIM_BOTTOM = 18 / 128


@dataclass
class HogDetector:
    """Tunable HOG people detector. Cheap to construct and to pickle; the SVM loads lazily."""

    min_width: int = 640  # upscale narrower frames to this width before detection
    win_stride: int = 8
    padding: int = 8
    scale: float = 1.2  # pyramid step (see benchmarks/eval_people.py for the trade-off)
    hit_threshold: float = 0.0
    min_score: float = 0.6  # SVM margin; 0.6 removed all empty-scene hits on the TUD plates
    nms_iou: float = 0.4
    tight: bool = True
    name: str = "hog"
    reason: str = "HOG requested"
    _hog: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def spec(self) -> str:
        return "hog"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_hog"] = None  # cv2 objects do not pickle; rebuilt on first use
        return state

    @property
    def hog(self) -> Any:
        if self._hog is None:
            import cv2

            hog = cv2.HOGDescriptor()
            hog.setSVMDetector(cv2.HOGDescriptor.getDefaultPeopleDetector())
            self._hog = hog
        return self._hog

    def detect(self, frames: np.ndarray) -> list[Detections]:
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        return [self._detect_one(f) for f in frames]

    def _detect_one(self, frame: np.ndarray) -> Detections:
        import cv2

        h, w = frame.shape[:2]
        f = max(1.0, self.min_width / w)
        img = frame if f == 1.0 else cv2.resize(frame, (round(w * f), round(h * f)))
        rects, weights = self.hog.detectMultiScale(
            img,
            hitThreshold=self.hit_threshold,
            winStride=(self.win_stride, self.win_stride),
            padding=(self.padding, self.padding),
            scale=self.scale,
            groupThreshold=0,  # raw windows; non-maximum suppression below keeps the best
        )
        if len(rects) == 0:
            return Detections.empty()
        rects = np.asarray(rects, np.float32).reshape(-1, 4)
        scores = np.asarray(weights, np.float32).reshape(-1)
        keep = scores >= self.min_score
        rects, scores = rects[keep], scores[keep]
        if len(rects) == 0:
            return Detections.empty()
        idx = cv2.dnn.NMSBoxes(rects.tolist(), scores.tolist(), self.min_score, self.nms_iou)
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        rects, scores = rects[idx], scores[idx]
        x, y, bw, bh = rects.T
        if self.tight:
            x, bw = x + bw * _TRIM_LEFT, bw * (1 - _TRIM_LEFT - _TRIM_RIGHT)
            y, bh = y + bh * _TRIM_TOP, bh * (1 - _TRIM_TOP - _TRIM_BOTTOM)
        xyxy = np.stack([x, y, x + bw, y + bh], axis=1)
        ids = np.full(len(xyxy), PERSON_CLASS, np.int16)
        return Detections.from_pixels(xyxy, scores, ids, (img.shape[1], img.shape[0]))
