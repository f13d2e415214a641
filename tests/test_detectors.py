"""Detectors: the interchange type, zones, the factory, HOG on real pixels, YOLO plumbing.

The YOLO tests build an *untrained* network from ``yolo11n.yaml``: they prove loading, batching,
pickling and output conversion, and claim nothing about finding people.
"""

from __future__ import annotations

import importlib.util
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.detectors import Detections, Detector, make_detector  # noqa: E402
from pipeline.detectors.factory import DetectorError  # noqa: E402
from pipeline.detectors.hog import HogDetector  # noqa: E402
from pipeline.zones import Zone, count_in  # noqa: E402

HAVE_ULTRALYTICS = importlib.util.find_spec("ultralytics") is not None


# -- interchange type ------------------------------------------------------------------------


def test_detections_pixels_roundtrip_and_anchors():
    px = np.array([[10, 20, 50, 120], [100, 0, 160, 60]], np.float32)
    det = Detections.from_pixels(px, [0.9, 0.4], [0, 2], (200, 100))
    assert det.boxes.dtype == np.float32 and det.class_ids.dtype == np.int16
    np.testing.assert_allclose(det.boxes[0], [0.05, 0.2, 0.25, 1.0])  # y2 clipped to the frame
    np.testing.assert_allclose(det.to_pixels((200, 100))[1], [100, 0, 160, 60])
    np.testing.assert_allclose(det.anchors("bottom_center")[0], [0.15, 1.0])
    np.testing.assert_allclose(det.anchors("center")[1], [0.65, 0.3])
    assert len(det.persons()) == 1 and det.persons().scores[0] == pytest.approx(0.9)
    assert len(Detections.empty()) == 0 and Detections.empty().anchors().shape == (0, 2)
    with pytest.raises(ValueError):
        Detections(np.zeros((2, 4)), np.zeros(1), np.zeros(2))
    with pytest.raises(ValueError):
        det.anchors("feet")


# -- zones -----------------------------------------------------------------------------------


def test_zone_membership_polygon_edges_and_anchor_choice():
    tri = Zone.of([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    pts = np.array([[0.2, 0.2], [0.8, 0.8], [0.5, 0.5], [0.0, 0.3], [1.0, 1.0]])
    assert tri.contains(pts).tolist() == [True, False, True, True, False]
    full = Zone.of([[0, 0], [1, 0], [1, 1], [0, 1]])
    assert full.contains(np.array([[0.5, 1.0], [1.0, 1.0], [0.0, 0.0]])).all()
    # a desk zone in the lower right: a person standing there has feet inside, centre above it
    desk = Zone.of([[0.5, 0.6], [1.0, 0.6], [1.0, 1.0], [0.5, 1.0]])
    det = Detections(np.array([[0.6, 0.1, 0.8, 0.9]]), [1.0], [0])
    assert count_in(det, desk, "bottom_center") == 1
    assert count_in(det, desk, "center") == 0
    assert count_in(det, None) == 0
    m = desk.mask(40, 20)
    assert m.shape == (20, 40) and m[19, 39] and not m[0, 0]
    assert 0.15 < m.mean() < 0.3  # about 0.5 x 0.4 of the frame


# -- factory and registry --------------------------------------------------------------------


def test_factory_hog_and_errors():
    det = make_detector("hog")
    assert isinstance(det, Detector) and det.name == "hog" and det.spec == "hog"
    assert "hog" in det.reason
    with pytest.raises(DetectorError, match="choose auto"):
        make_detector("ssd")
    if HAVE_ULTRALYTICS:
        with pytest.raises(DetectorError, match="not found"):
            make_detector("yolo:/nonexistent/weights.pt")


def test_auto_falls_back_to_hog_quickly_without_weights(tmp_path, monkeypatch):
    import models

    monkeypatch.setenv("EXAMAUDIT_MODELS", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    if models.find("yolo11n.pt") is not None:
        pytest.skip("yolo11n.pt is on this machine; auto would pick YOLO")
    t0 = time.perf_counter()
    det = make_detector("auto")
    elapsed = time.perf_counter() - t0
    if det.name == "yolo":  # a networked machine fetched the weights: fine, and say so
        assert "fetched" in det.reason
    else:
        assert det.name == "hog" and "yolo11n.pt" in det.reason and "HOG" in det.reason
    assert elapsed < 10, f"auto took {elapsed:.1f} s to decide (must not hang offline)"


def test_registry_lookup_and_checksum(tmp_path, monkeypatch):
    import models

    reg = models.registry()
    y = reg["yolo11n"]
    assert y.file == "yolo11n.pt" and y.source.startswith("https://") and y.licence
    assert len(y.sha256) == 64
    assert not list(Path(models.__file__).parent.glob("*.pt")), "weights must not be committed"
    fake = tmp_path / "yolo11n.pt"
    fake.write_bytes(b"not a checkpoint")
    monkeypatch.setenv("EXAMAUDIT_MODELS", str(tmp_path))
    assert models.find("yolo11n.pt") == fake.resolve()
    assert models.verify(fake) is False  # sha256 mismatch is caught
    monkeypatch.setenv("EXAMAUDIT_OFFLINE", "1")
    assert models.online(y.source) is False
    if HAVE_ULTRALYTICS:
        det = make_detector("auto")
        assert det.name == "hog" and "does not match" in det.reason


# -- HOG -------------------------------------------------------------------------------------


def test_hog_pickles_and_handles_empty_and_batched_frames(real_data):
    from benchmarks.eval_people import decode

    frames, _ = decode(real_data / "TUD-Campus.mp4", 320)
    det = HogDetector()
    clone = pickle.loads(pickle.dumps(det))
    out = det.detect(frames[:3])
    assert len(out) == 3 and all(len(d) > 0 for d in out)
    again = pickle.loads(pickle.dumps(det))  # after the SVM was loaded
    assert again.detect(frames[:1])[0].boxes.tolist() == out[0].boxes.tolist()
    assert len(clone.detect(frames[0])) == 1  # a single (H, W, 3) frame is a batch of one
    for d in out:
        assert ((d.boxes >= 0) & (d.boxes <= 1)).all() and (d.class_ids == 0).all()
        assert (d.boxes[:, 2] > d.boxes[:, 0]).all() and (d.boxes[:, 3] > d.boxes[:, 1]).all()
    flat = np.full((1, 240, 320, 3), 128, np.uint8)
    assert len(det.detect(flat)[0]) == 0


# -- YOLO plumbing (untrained network) -------------------------------------------------------


@pytest.fixture(scope="module")
def untrained_yolo():
    if not HAVE_ULTRALYTICS:
        pytest.skip("ultralytics not installed")
    det = make_detector("yolo:yolo11n.yaml")
    assert det.name == "yolo" and "untrained" in det.reason
    return det


def test_yolo_loads_lazily_pickles_and_batches(untrained_yolo):
    det = untrained_yolo
    det.batch, det.imgsz, det.conf = 2, 160, 0.0  # conf 0: keep the untrained network's boxes
    assert det._model is None  # nothing loaded until the first batch
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (5, 120, 160, 3), dtype=np.uint8)
    out = det.detect(frames)  # 5 frames in batches of 2, 2, 1
    assert det._model is not None
    assert len(out) == 5
    assert sum(len(d) for d in out) > 0, "conf=0 should keep raw boxes to convert"
    for d in out:
        assert isinstance(d, Detections)
        assert ((d.boxes >= 0) & (d.boxes <= 1)).all() and (d.class_ids == 0).all()
    clone = pickle.loads(pickle.dumps(det))
    assert clone._model is None and len(clone.detect(frames[:3])) == 3


def test_yolo_results_conversion_keeps_persons_normalised():
    if not HAVE_ULTRALYTICS:
        pytest.skip("ultralytics not installed")
    import torch
    from ultralytics.engine.results import Results

    from pipeline.detectors.yolo import to_detections

    img = np.zeros((100, 200, 3), np.uint8)
    boxes = torch.tensor([[20.0, 10.0, 60.0, 90.0, 0.9, 0.0], [100.0, 0.0, 200.0, 50.0, 0.8, 2.0]])
    det = to_detections(Results(img, path="x.jpg", names={0: "person", 2: "car"}, boxes=boxes))
    assert len(det) == 1
    np.testing.assert_allclose(det.boxes[0], [0.1, 0.1, 0.3, 0.9], atol=1e-6)
    assert det.scores[0] == pytest.approx(0.9) and det.class_ids[0] == 0
    empty = Results(img, path="x.jpg", names={0: "person"}, boxes=torch.zeros((0, 6)))
    assert len(to_detections(empty)) == 0


def test_auto_picks_yolo_when_weights_are_on_disk(tmp_path, monkeypatch):
    """Selection only: a registered file with no pinned checksum is found and chosen."""
    if not HAVE_ULTRALYTICS:
        pytest.skip("ultralytics not installed")
    import dataclasses

    import models

    real = models.registry()
    unpinned = {k: dataclasses.replace(v, sha256="") for k, v in real.items()}
    monkeypatch.setattr(models, "registry", lambda: unpinned)
    monkeypatch.setenv("EXAMAUDIT_MODELS", str(tmp_path))
    monkeypatch.setenv("EXAMAUDIT_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    if models.find("yolo11n.pt") is None:
        with pytest.raises(DetectorError, match=r"no yolo11n\.pt on disk"):
            make_detector("yolo")
    (tmp_path / "yolo11n.pt").write_bytes(b"placeholder")
    det = make_detector("auto", device="cuda")
    assert det.name == "yolo" and det.spec == f"yolo:{(tmp_path / 'yolo11n.pt').resolve()}"
    assert "found yolo11n.pt" in det.reason
    if not _cuda():
        assert det.device == "cpu" and "not available" in det.reason


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False
