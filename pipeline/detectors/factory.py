"""``--detector auto|ssdlite|hog|yolo|yolo:WEIGHTS`` -> a detector, with the reason it was chosen.

``auto`` picks YOLO when its weights are on disk (models registry lookup) or can be fetched
(a connection test with a short timeout, so an offline machine answers at once), else the
committed SSDLite model (offline, finds seated people; see benchmarks/eval_people.py). HOG stays
selectable. The returned detector's ``spec`` names the resolved choice (``ssdlite``, ``hog`` or
``yolo:/abs/path.pt``) so Dask workers rebuild the same detector without resolving ``auto``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pipeline.detectors import Detector
from pipeline.detectors.hog import HogDetector
from pipeline.detectors.ssdlite import SsdliteDetector
from pipeline.detectors.yolo import YoloDetector
from pipeline.errors import InputError

DEFAULT_YOLO = "yolo11n"


class DetectorError(InputError, ValueError):
    """The requested detector cannot be built here (missing weights or library): bad usage,
    so the CLI exits 2 with this message (an :class:`InputError` naming ``--detector``)."""

    def __init__(self, reason: str) -> None:
        super().__init__("--detector", None, reason)


def _have_ultralytics() -> bool:
    return importlib.util.find_spec("ultralytics") is not None


def _device(device: str) -> tuple[str, str]:
    """The device to use and a note when the requested one is not available."""
    if not device.startswith("cuda"):
        return device, ""
    try:
        import torch

        if torch.cuda.is_available():
            return device, ""
    except ImportError:
        pass
    return "cpu", f"; {device} not available, using cpu"


def _yolo_weights(fetch: bool) -> tuple[Path | None, str]:
    """Path of the default YOLO weights (looked up, else fetched when ``fetch``) and a reason."""
    import models

    info = models.registry()[DEFAULT_YOLO]
    path = models.find(info.file)
    if path is not None:
        ok = models.verify(path, info)
        if ok is False:
            return None, f"{path} does not match the registry's sha256 for {info.name}"
        return path, f"found {info.file} at {path}"
    looked = ", ".join(str(d) for d in models.search_dirs())
    if not fetch:
        return None, f"no {info.file} on disk (looked in {looked})"
    if not models.online(info.source):
        return None, f"no {info.file} on disk (looked in {looked}) and no network to fetch it"
    try:
        return models.fetch(info), f"fetched {info.file} from {info.source}"
    except OSError as exc:
        return None, f"could not fetch {info.file}: {exc}"


def make(spec: str = "auto", device: str = "cpu") -> Detector:
    spec = (spec or "auto").strip()
    kind, _, weights = spec.partition(":")
    kind = kind.lower()
    if kind == "hog":
        note = "" if device == "cpu" else f"; HOG runs on the cpu whatever --device {device} says"
        return HogDetector(reason=f"requested with --detector hog{note}")
    if kind == "ssdlite":
        note = (
            "" if device == "cpu" else f"; SSDLite runs on the cpu whatever --device {device} says"
        )
        return SsdliteDetector(reason=f"requested with --detector ssdlite{note}")
    if kind == "yolo":
        if not _have_ultralytics():
            raise DetectorError(
                "yolo needs the ultralytics package (pip install 'examaudit[yolo]')"
            )
        dev, note = _device(device)
        if weights:
            import models

            if weights.endswith((".yaml", ".yml")):
                # an architecture file builds an untrained network (tests, benchmarks)
                return YoloDetector(weights, dev, reason=f"untrained network from {weights}{note}")
            path = models.find(weights)
            if path is None:
                raise DetectorError(f"{spec}: weights file {weights} not found")
            return YoloDetector(str(path), dev, reason=f"weights {path}{note}")
        path, why = _yolo_weights(fetch=True)
        if path is None:
            raise DetectorError(f"yolo: {why}; pass yolo:PATH to a weights file")
        return YoloDetector(str(path), dev, reason=why + note)
    if kind == "auto":
        if not _have_ultralytics():
            return SsdliteDetector(reason="auto: ultralytics not installed, using SSDLite")
        path, why = _yolo_weights(fetch=True)
        if path is None:
            return SsdliteDetector(reason=f"auto: {why}; using SSDLite")
        dev, note = _device(device)
        return YoloDetector(str(path), dev, reason=f"auto: {why}{note}")
    raise DetectorError(f"{spec!r}: choose auto, ssdlite, hog, yolo or yolo:WEIGHTS")
