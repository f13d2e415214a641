"""Person detectors behind one protocol, returning one interchange type.

Every backend takes a batch of BGR frames and returns one :class:`Detections` per frame, with
boxes in **normalised** ``xyxy`` coordinates (fractions of the frame's width and height), so
zones (normalised polygons in site.toml) apply whatever the analysis width is.

Backends: ``ssdlite`` (SSDLite-MobileNetV2 on onnxruntime, model committed under models/, the
offline default), ``hog`` (OpenCV's people detector; standing people only) and
``yolo[:WEIGHTS]`` (Ultralytics, person class only, needs weights on disk). Construction is
cheap; models load on first :meth:`Detector.detect`, so a detector can be pickled to a Dask
worker or built inside one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

PERSON_CLASS = 0  # COCO class id of "person"; HOG reports every box with it


@dataclass(frozen=True, eq=False)
class Detections:
    """Detections of one frame. ``boxes`` is ``(K, 4)`` float32 normalised ``x1, y1, x2, y2``."""

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        class_ids = np.asarray(self.class_ids, dtype=np.int16).reshape(-1)
        if not (len(boxes) == len(scores) == len(class_ids)):
            raise ValueError("boxes, scores and class_ids must have the same length")
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "class_ids", class_ids)

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int16))

    @classmethod
    def from_pixels(
        cls,
        boxes_xyxy: np.ndarray,
        scores: np.ndarray,
        class_ids: np.ndarray,
        size: tuple[int, int],
    ) -> Detections:
        """From pixel ``xyxy`` boxes in a frame of ``size = (width, height)``; clipped to it."""
        w, h = size
        b = np.asarray(boxes_xyxy, dtype=np.float32).reshape(-1, 4) / np.array(
            [w, h, w, h], np.float32
        )
        return cls(np.clip(b, 0.0, 1.0), scores, class_ids)

    def to_pixels(self, size: tuple[int, int]) -> np.ndarray:
        """Boxes as pixel ``xyxy`` in a frame of ``size = (width, height)``."""
        w, h = size
        return self.boxes * np.array([w, h, w, h], np.float32)

    def persons(self) -> Detections:
        keep = self.class_ids == PERSON_CLASS
        return Detections(self.boxes[keep], self.scores[keep], self.class_ids[keep])

    def anchors(self, kind: str = "bottom_center") -> np.ndarray:
        """``(K, 2)`` normalised points that decide zone membership."""
        x = (self.boxes[:, 0] + self.boxes[:, 2]) / 2
        if kind == "bottom_center":
            y = self.boxes[:, 3]
        elif kind == "center":
            y = (self.boxes[:, 1] + self.boxes[:, 3]) / 2
        else:
            raise ValueError(f"unknown anchor {kind!r} (bottom_center or center)")
        return np.stack([x, y], axis=1) if len(x) else np.zeros((0, 2), np.float32)


@runtime_checkable
class Detector(Protocol):
    """Finds people in a batch of frames ``(N, H, W, 3)`` BGR uint8; one result per frame."""

    name: str  # backend: "ssdlite", "hog" or "yolo"
    reason: str  # why this detector was chosen, for the CLI to show
    spec: str  # the resolved choice ("ssdlite", "yolo:/abs/weights.pt"): rebuilds it in a worker

    def detect(self, frames: np.ndarray) -> list[Detections]: ...


def make_detector(spec: str = "auto", device: str = "cpu") -> Detector:
    """``auto|ssdlite|hog|yolo|yolo:WEIGHTS`` -> a detector; ``detector.reason`` says why."""
    from pipeline.detectors.factory import make

    return make(spec, device)


__all__ = ["PERSON_CLASS", "Detections", "Detector", "make_detector"]
