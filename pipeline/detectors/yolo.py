"""Ultralytics YOLO person detector: batched inference, person class only, cpu or cuda.

Needs weights on disk (``yolo11n.pt`` via the models registry, or ``yolo:PATH``); a model YAML
such as ``yolo11n.yaml`` builds an untrained network, which the tests use to prove loading,
batching and output conversion without pretending it finds anyone. The network loads on the
first :meth:`YoloDetector.detect`, so the detector pickles cheaply to Dask workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.detectors import PERSON_CLASS, Detections


@dataclass
class YoloDetector:
    weights: str  # a .pt file, or a model .yaml (untrained network, for tests)
    device: str = "cpu"
    imgsz: int = 640  # network input size; frames are letterboxed (upscaled) to it
    conf: float = 0.25
    iou: float = 0.45
    batch: int = 16
    name: str = "yolo"
    reason: str = "YOLO requested"
    _model: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def spec(self) -> str:
        return f"yolo:{self.weights}"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_model"] = None  # torch modules with locks do not pickle; reloaded on first use
        return state

    @property
    def model(self) -> Any:
        if self._model is None:
            from ultralytics import YOLO

            self._model = YOLO(self.weights, task="detect")
        return self._model

    def detect(self, frames: np.ndarray) -> list[Detections]:
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        out: list[Detections] = []
        for i in range(0, len(frames), self.batch):
            results = self.model.predict(
                list(frames[i : i + self.batch]),  # a list is one batch for Ultralytics
                imgsz=self.imgsz,
                conf=self.conf,
                iou=self.iou,
                classes=[PERSON_CLASS],
                device=self.device,
                verbose=False,
                **precision(self.device),
            )
            out.extend(to_detections(r) for r in results)
        return out


def precision(device: str) -> dict[str, Any]:
    """fp16 on cuda, spelled for the installed Ultralytics (``quantize`` replaced ``half``)."""
    if not device.startswith("cuda"):
        return {}
    try:
        from ultralytics.cfg import DEFAULT_CFG_DICT

        if "quantize" in DEFAULT_CFG_DICT:
            return {"quantize": 16}
    except ImportError:
        pass
    return {"half": True}


def to_detections(result: Any) -> Detections:
    """An Ultralytics ``Results`` -> :class:`Detections` (normalised xyxy, person class only)."""
    boxes = result.boxes
    if boxes is None or len(boxes) == 0:
        return Detections.empty()
    det = Detections(
        boxes.xyxyn.cpu().numpy(),
        boxes.conf.cpu().numpy(),
        boxes.cls.cpu().numpy().astype(np.int16),
    )
    return det.persons()
