"""Person detection on real footage with ground truth (MOT15 TUD-Campus, TUD-Stadtmitte).

Per frame: detected person boxes vs ground-truth boxes, matched greedily by score at IoU >= 0.5
(precision, recall), and "any person present" (recall of frames with at least one GT person;
precision where the clip has empty frames, which these clips do not).

    python benchmarks/eval_people.py                       # default detector, analysis width
    python benchmarks/eval_people.py --backend hog --width 640 --json out.json
    python benchmarks/eval_people.py --sweep               # the HOG settings tried
    python benchmarks/eval_people.py --samples sample_videos --evidence EVIDENCE
                                  # people findings of a scan vs the samples' ground truth

The functions are imported by tests/test_people.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CLIPS = ("TUD-Campus", "TUD-Stadtmitte")


def real_data_dir() -> Path | None:
    """``../shared/data/real`` next to the project, or None where it is absent."""
    d = (ROOT / ".." / "shared" / "data" / "real").resolve()
    return d if all((d / f"{c}.mp4").exists() for c in CLIPS) else None


def load_gt(path: Path) -> dict[int, np.ndarray]:
    """MOT ground truth -> {0-based frame: (K, 4) pixel xyxy}; rows with conf 0 are ignored."""
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    rows = rows[rows[:, 6] != 0]
    out: dict[int, np.ndarray] = {}
    for frame in np.unique(rows[:, 0]).astype(int):
        r = rows[rows[:, 0] == frame]
        out[frame - 1] = np.stack([r[:, 2], r[:, 3], r[:, 2] + r[:, 4], r[:, 3] + r[:, 5]], 1)
    return out


def decode(path: Path, width: int | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """All frames, scaled by FFmpeg's scaler to ``width`` (aspect kept), and the full size."""
    import av

    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        full = (stream.codec_context.width, stream.codec_context.height)
        w = width or full[0]
        h = round(full[1] * w / full[0] / 2) * 2
        for frame in container.decode(stream):
            frames.append(frame.reformat(width=w, height=h, format="bgr24").to_ndarray())
    return np.stack(frames), full


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def match(
    pred: np.ndarray, scores: np.ndarray, gt: np.ndarray, thr: float = 0.5
) -> tuple[int, int, int]:
    """Greedy matching by descending score: (true positives, false positives, false negatives)."""
    iou = iou_matrix(pred, gt)
    used = np.zeros(len(gt), bool)
    tp = 0
    for i in np.argsort(-scores):
        if len(gt) == 0:
            break
        cand = np.where(~used, iou[i], -1.0)
        j = int(np.argmax(cand))
        if cand[j] >= thr:
            used[j] = True
            tp += 1
    return tp, len(pred) - tp, len(gt) - tp


def background_plate(frames: np.ndarray, boxes: dict[int, np.ndarray], scale: float) -> np.ndarray:
    """The empty scene: per-pixel median over frames where no ground-truth person covers the
    pixel; pixels some person covers almost all clip long (TUD-Stadtmitte has one standing
    still) are inpainted from their surroundings."""
    import cv2

    mask = np.zeros(frames.shape[:3], bool)
    for i in range(len(frames)):
        for x1, y1, x2, y2 in boxes.get(i, np.zeros((0, 4))) * scale:
            mask[i, max(int(y1) - 3, 0) : int(y2) + 3, max(int(x1) - 3, 0) : int(x2) + 3] = True
    # median of the unmasked values: masked ones sort last, pick the middle of the valid ones
    vals = np.where(mask[..., None], np.uint16(1000), frames.astype(np.uint16))
    vals.sort(axis=0)
    valid = (~mask).sum(axis=0)[None, :, :, None].repeat(3, axis=-1)
    plate = np.take_along_axis(vals, np.maximum(valid - 1, 0) // 2, axis=0)[0]
    plate = np.where(valid[0] > 0, plate, 0).astype(np.uint8)
    # pixels a person covers in most frames keep too few (and contaminated) values: inpaint
    hole = (mask.mean(axis=0) >= 0.8).astype(np.uint8)
    if hole.any():
        hole = cv2.dilate(hole, np.ones((9, 9), np.uint8))
        plate = cv2.inpaint(plate, hole * 255, 5, cv2.INPAINT_TELEA)
    return plate


def noisy(plate: np.ndarray, rng: np.random.Generator, sigma: float = 3.0) -> np.ndarray:
    """The plate with fresh sensor noise, as a camera would see the empty scene."""
    noise = rng.normal(0, sigma, plate.shape).round().astype(np.int16)
    return np.clip(plate.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def empty_scene_false_rate(detector, clip: str, width: int, data: Path, n: int = 20) -> float:
    """Share of noisy empty-plate frames in which the detector reports anyone."""
    frames, full = decode(data / f"{clip}.mp4", width)
    plate = background_plate(frames, load_gt(data / f"{clip}.gt.txt"), width / full[0])
    rng = np.random.default_rng(0)
    batch = np.stack([noisy(plate, rng) for _ in range(n)])
    return float(np.mean([len(d.persons()) > 0 for d in detector.detect(batch)]))


@dataclass
class Score:
    frames: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    present_frames: int = 0  # frames with at least one GT person
    present_hits: int = 0  # ... in which the detector found at least one person
    empty_frames: int = 0
    empty_false: int = 0  # frames without GT people in which something was detected
    seconds: float = 0.0

    def add(self, other: Score) -> None:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def summary(self) -> dict[str, float | int | None]:
        def ratio(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        return {
            "frames": self.frames,
            "precision": ratio(self.tp, self.tp + self.fp),
            "recall": ratio(self.tp, self.tp + self.fn),
            "present_recall": ratio(self.present_hits, self.present_frames),
            "present_false_rate": ratio(self.empty_false, self.empty_frames),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "detect_ms_per_frame": round(1000 * self.seconds / max(self.frames, 1), 1),
        }


def evaluate_clip(detector, clip: str, width: int, data: Path, step: int = 1) -> Score:
    """Run ``detector`` on every ``step``-th frame of ``clip`` decoded at ``width``."""
    frames, full = decode(data / f"{clip}.mp4", width)
    gt = load_gt(data / f"{clip}.gt.txt")
    idx = np.arange(0, len(frames), step)
    t0 = time.perf_counter()
    dets = []
    for k in range(0, len(idx), 16):
        dets.extend(detector.detect(frames[idx[k : k + 16]]))
    score = Score(frames=len(idx), seconds=time.perf_counter() - t0)
    for i, det in zip(idx, dets, strict=True):
        det = det.persons()
        g = gt.get(int(i), np.zeros((0, 4)))
        tp, fp, fn = match(det.to_pixels(full), det.scores, g)
        score.tp, score.fp, score.fn = score.tp + tp, score.fp + fp, score.fn + fn
        if len(g):
            score.present_frames += 1
            score.present_hits += int(len(det) > 0)
        else:
            score.empty_frames += 1
            score.empty_false += int(len(det) > 0)
    return score


def evaluate(
    detector, width: int, data: Path, step: int = 1, plate_frames: int = 20
) -> dict[str, dict]:
    """Per clip and overall summaries for one detector at one analysis width."""
    out: dict[str, dict] = {}
    total = Score()
    for clip in CLIPS:
        s = evaluate_clip(detector, clip, width, data, step)
        out[clip] = s.summary()
        out[clip]["empty_plate_false_rate"] = round(
            empty_scene_false_rate(detector, clip, width, data, plate_frames), 3
        )
        total.add(s)
    out["all"] = total.summary()
    return out


PEOPLE_KINDS = ("proctor_absent", "qa_substitution")


def check_samples(samples: Path, evidence: Path, tolerance_s: float = 2.0) -> dict:
    """People findings in ``evidence/events.parquet`` vs ``samples/ground_truth.json``.

    Every expected proctor_absent / qa_substitution must be matched by one found event of the
    same kind and session with both boundaries within ``tolerance_s``; any other people
    finding is a false one (and on a clean session, a clean-session failure).
    """
    from datetime import datetime

    import pyarrow.parquet as pq

    gt = json.loads((samples / "ground_truth.json").read_text())
    expected = [f for f in gt["findings"] if f["kind"] in PEOPLE_KINDS]
    rows = pq.read_table(evidence / "events.parquet").to_pylist()
    found = [r for r in rows if r["kind"] in PEOPLE_KINDS]

    def secs(v) -> float:
        return (datetime.fromisoformat(v) if isinstance(v, str) else v).timestamp()

    used: set[int] = set()
    matched, missed = [], []
    for f in expected:
        hit = None
        for i, r in enumerate(found):
            if i in used or r["kind"] != f["kind"] or r["session_id"] != f["session_id"]:
                continue
            ds, de = secs(r["start"]) - secs(f["start"]), secs(r["end"]) - secs(f["end"])
            if abs(ds) <= tolerance_s and abs(de) <= tolerance_s:
                hit = (i, round(ds, 2), round(de, 2))
                break
        if hit is None:
            near = [
                (r["start"].isoformat(), r["end"].isoformat())
                for r in found
                if r["kind"] == f["kind"] and r["session_id"] == f["session_id"]
            ]
            missed.append({**f, "found_instead": near})
        else:
            used.add(hit[0])
            matched.append(
                {
                    "kind": f["kind"],
                    "session_id": f["session_id"],
                    "start_error_s": hit[1],
                    "end_error_s": hit[2],
                }
            )
    false = [
        {
            k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in r.items()
            if k in ("kind", "session_id", "start", "end", "confidence")
        }
        for i, r in enumerate(found)
        if i not in used
    ]
    clean = set(gt.get("clean_sessions", []))
    return {
        "expected": len(expected),
        "matched": matched,
        "missed": missed,
        "false": false,
        "false_on_clean_sessions": [f for f in false if f["session_id"] in clean],
        "ok": not missed and not false,
    }


def _sweep(data: Path, step: int) -> list[dict]:
    from pipeline.detectors.hog import HogDetector

    trials = [  # defaults: upscale to 640, stride 8, scale 1.1, min_score 0.6, tight boxes
        ("w320 defaults", 320, {}),
        ("w320 no upscale", 320, {"min_width": 0}),
        ("w640 native", 640, {}),
        ("w320 loose boxes", 320, {"tight": False}),
        ("w320 scale 1.05", 320, {"scale": 1.05}),
        ("w320 scale 1.2", 320, {"scale": 1.2}),
        ("w320 min_score 0.3", 320, {"min_score": 0.3}),
        ("w320 min_score 1.0", 320, {"min_score": 1.0}),
        ("w320 stride 4", 320, {"win_stride": 4}),
    ]
    rows = []
    for label, width, kw in trials:
        res = evaluate(HogDetector(**kw), width, data, step)
        rows.append({"label": label, "width": width, "params": kw, **res["all"]})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backend", default="auto", help="hog | yolo | yolo:WEIGHTS | auto")
    p.add_argument("--width", type=int, default=None, help="analysis width (default: config)")
    p.add_argument("--step", type=int, default=1, help="evaluate every STEP-th frame")
    p.add_argument("--sweep", action="store_true", help="try the HOG settings listed in _sweep")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--samples", type=Path, default=None, help="samples folder (ground truth)")
    p.add_argument("--evidence", type=Path, default=None, help="evidence of a scan of it")
    args = p.parse_args(argv)
    if args.samples is not None:
        report = check_samples(args.samples, args.evidence or Path("evidence"))
        print(json.dumps(report, indent=2, default=str))
        return 0 if report["ok"] else 1
    data = real_data_dir()
    if data is None:
        print("real data not found at ../shared/data/real; nothing to evaluate")
        return 0
    if args.sweep:
        result: object = _sweep(data, args.step)
    else:
        from pipeline.config import Analysis
        from pipeline.detectors import make_detector

        det = make_detector(args.backend)
        width = args.width or Analysis().width
        print(f"detector: {det.name} ({det.reason}); width {width}")
        result = {
            "backend": det.name,
            "reason": det.reason,
            "width": width,
            **evaluate(det, width, data, args.step),
        }
        print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
