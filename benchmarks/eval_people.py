"""Person detection on real footage with ground truth (MOT15 TUD-Campus, TUD-Stadtmitte).

Per frame: detected person boxes vs ground-truth boxes, matched greedily by score at IoU >= 0.5
(precision, recall), and "any person present" (recall of frames with at least one GT person).
Three conditions per clip: as filmed (``real``); ``desk``: the lower half of every GT person
hidden by a desk-coloured block (seated people behind desks, the exam-room case; the visible
upper half is the ground truth); ``plate``: empty views of the scene (GT people removed by a
median over frames, fresh noise each, half of them with the desk blocks left standing), where
any detection is false. Plus CPU ms per 640 px frame on one core, backends measured in turn.

    python benchmarks/eval_people.py --backend all          # ssdlite, hog, yolo (YAML) tables
    python benchmarks/eval_people.py --backend hog --width 640 --json out.json
    python benchmarks/eval_people.py --sweep ssdlite       # the SSDLite settings tried
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


DESK_BGR = (62, 98, 140)  # a wooden desk front


def desk_hidden(
    frames: np.ndarray, gt: dict[int, np.ndarray], scale: float
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """The exam-room case: the lower half of every ground-truth person hidden by a desk-coloured
    block (with a little texture, as a real desk front has). Returns the frames and the visible
    ground truth (the upper half of each box, full-size pixels), which is what a detector can
    and should box for someone seated behind a desk."""
    rng = np.random.default_rng(7)
    out = frames.copy()
    visible: dict[int, np.ndarray] = {}
    for i in range(len(frames)):
        g = gt.get(i, np.zeros((0, 4)))
        for x1, y1, x2, y2 in g * scale:
            ya, yb = max(int((y1 + y2) / 2), 0), int(np.ceil(y2))
            xa, xb = max(int(x1), 0), int(np.ceil(x2))
            block = out[i, ya:yb, xa:xb]
            grain = rng.normal(0, 4, block.shape[:2])[..., None]
            block[:] = np.clip(np.array(DESK_BGR, np.float32) + grain, 0, 255).astype(np.uint8)
        if len(g):
            visible[i] = np.stack([g[:, 0], g[:, 1], g[:, 2], (g[:, 1] + g[:, 3]) / 2], 1)
    return out, visible


def empty_plates(
    frames: np.ndarray, gt: dict[int, np.ndarray], scale: float, n: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` empty views of the scene (ground-truth people removed, fresh sensor noise each),
    bare, and ``n`` with the desk blocks of the busiest frame left standing in the empty room
    (an exam room before the candidates come in)."""
    plate = background_plate(frames, gt, scale)
    rng = np.random.default_rng(0)
    busiest = max(gt, key=lambda i: len(gt[i])) if gt else 0
    with_desks = desk_hidden(plate[None], {0: gt.get(busiest, np.zeros((0, 4)))}, scale)[0][0]
    bare = np.stack([noisy(plate, rng) for _ in range(n)])
    return bare, np.stack([noisy(with_desks, rng) for _ in range(n)])


def _plate_hits(detector, plates: np.ndarray) -> dict:
    dets, _ = _run(detector, plates)
    hits = [float(d.persons().scores.max()) for d in dets if len(d.persons())]
    return {
        "frames": len(dets),
        "frames_with_detection": len(hits),
        "max_score": round(max(hits, default=0.0), 3),
    }


def _score(dets: list, gt: dict[int, np.ndarray], full: tuple[int, int], idx, seconds=0.0):
    score = Score(frames=len(dets), seconds=seconds)
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


def _run(detector, frames: np.ndarray) -> tuple[list, float]:
    t0 = time.perf_counter()
    dets = []
    for k in range(0, len(frames), 16):
        dets.extend(detector.detect(frames[k : k + 16]))
    return dets, time.perf_counter() - t0


def evaluate_clip(
    detector, clip: str, width: int, data: Path, step: int = 1, condition: str = "real"
) -> Score:
    """Run ``detector`` on every ``step``-th frame of ``clip`` decoded at ``width``, as filmed
    (``condition="real"``) or with every person's lower half behind a desk (``"desk"``)."""
    frames, full = decode(data / f"{clip}.mp4", width)
    gt = load_gt(data / f"{clip}.gt.txt")
    if condition == "desk":
        frames, gt = desk_hidden(frames, gt, width / full[0])
    elif condition != "real":
        raise ValueError(f"condition {condition!r}: real or desk")
    idx = np.arange(0, len(frames), step)
    dets, seconds = _run(detector, frames[idx])
    return _score(dets, gt, full, idx, seconds)


def evaluate(
    detector, width: int, data: Path, step: int = 1, plate_frames: int = 20
) -> dict[str, dict]:
    """Per clip and overall: the clip as filmed (``real``), desk-hidden (``desk``), and its
    empty plates, bare (``plate``) and with desks (``desk_plate``): frames with a detection."""
    out: dict[str, dict] = {}
    totals = {"real": Score(), "desk": Score()}
    plate_total = {
        k: {"frames": 0, "frames_with_detection": 0, "max_score": 0.0}
        for k in ("plate", "desk_plate")
    }
    for clip in CLIPS:
        frames, full = decode(data / f"{clip}.mp4", width)
        gt = load_gt(data / f"{clip}.gt.txt")
        idx = np.arange(0, len(frames), step)
        hidden, visible = desk_hidden(frames, gt, width / full[0])
        row: dict[str, dict] = {}
        for cond, fr, g in (("real", frames, gt), ("desk", hidden, visible)):
            dets, seconds = _run(detector, fr[idx])
            s = _score(dets, g, full, idx, seconds)
            row[cond] = s.summary()
            totals[cond].add(s)
        plates = empty_plates(frames, gt, width / full[0], plate_frames)
        for kind, pl in zip(("plate", "desk_plate"), plates, strict=True):
            row[kind] = hit = _plate_hits(detector, pl)
            tot = plate_total[kind]
            tot["frames"] += hit["frames"]
            tot["frames_with_detection"] += hit["frames_with_detection"]
            tot["max_score"] = max(tot["max_score"], hit["max_score"])
        out[clip] = row
    out["all"] = {k: v.summary() for k, v in totals.items()} | plate_total
    return out


def _session_boxes(detector, frames: np.ndarray) -> list:
    """``person_boxes`` of ``frames`` taken as one session's samples (the people signal)."""
    from pipeline.findings.static import samples_of
    from pipeline.inputs.config import Camera, Site
    from pipeline.media.frames import FrameBatch
    from pipeline.signals import AnalysisContext
    from pipeline.signals.people import PeopleSignals

    site = Site()
    ctx = AnalysisContext(Camera("eval"), site.rules, site.analysis, detector)
    h, w = frames.shape[1:3]
    batch = FrameBatch("eval", np.arange(len(frames), dtype=float), frames, (w, h))
    return samples_of(list(PeopleSignals()(batch, ctx)["person_boxes"]))


def static_filter_check(detector, width: int, data: Path, step: int = 5, n: int = 20) -> dict:
    """The session-level static look-alike filter on each clip taken as one session (every
    ``step``-th frame a sample: people who stand still for a while must survive it) and on
    its empty plates as a session (a look-alike there must go)."""
    from pipeline.findings.static import find_lookalikes

    out = {}
    for clip in CLIPS:
        frames, full = decode(data / f"{clip}.mp4", width)
        gt = load_gt(data / f"{clip}.gt.txt")
        idx = np.arange(0, len(frames), step)
        samples = _session_boxes(detector, frames[idx])
        found = find_lookalikes(samples)
        # real people boxes (IoU >= 0.5 with ground truth) at a look-alike's place
        lost = 0
        for k, (boxes, _) in enumerate(samples):
            g = gt.get(int(idx[k]), np.zeros((0, 4))) / np.array([*full, *full])
            for f in found:
                at = iou_matrix(np.array([f.box]), boxes)[0] >= 0.6
                lost += int((iou_matrix(boxes[at], g) >= 0.5).any(axis=1).sum()) if at.any() else 0
        row = {"clip_lookalikes": len(found), "real_boxes_dropped": lost}
        for kind, pl in zip(
            ("plate", "desk_plate"), empty_plates(frames, gt, width / full[0], n), strict=True
        ):
            s = _session_boxes(detector, pl)
            looks = find_lookalikes(s)
            refs = np.array([f.box for f in looks]).reshape(-1, 4)
            left = sum(
                bool(len(b)) and bool((iou_matrix(b, refs).max(axis=1, initial=0) < 0.6).any())
                for b, _ in s
            )
            row[kind] = {
                "frames_with_detection": sum(len(b) > 0 for b, _ in s),
                "lookalikes": len(looks),
                "frames_with_detection_after_filter": left,
            }
        out[clip] = row
    return out


def ms_per_frame(detectors: dict[str, object], data: Path, frames: int = 30, rounds: int = 3):
    """CPU ms per 640 px frame on one core for each detector, measured in alternating rounds
    (a busy machine inflates all of them alike); the median round is reported."""
    import cv2

    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    batch = decode(data / "TUD-Stadtmitte.mp4", 640)[0][:frames]
    for det in detectors.values():
        det.detect(batch[:2])  # load models outside the timing
    times: dict[str, list[float]] = {k: [] for k in detectors}
    for _ in range(rounds):
        for name, det in detectors.items():
            t0 = time.process_time()
            for f in batch:
                det.detect(f[None])
            times[name].append(1000 * (time.process_time() - t0) / len(batch))
    return {k: round(float(np.median(v)), 1) for k, v in times.items()}


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


SWEEPS = {
    "hog": [  # defaults: upscale to 640, stride 8, scale 1.2, min_score 0.6, tight boxes
        ("defaults", {}),
        ("no upscale", {"min_width": 0}),
        ("scale 1.1", {"scale": 1.1}),
        ("min_score 0.3", {"min_score": 0.3}),
    ],
    "ssdlite": [  # defaults: min_score 0.18, extra NMS 0.4, one pass over the whole frame
        ("defaults", {}),
        ("min_score 0.5, graph NMS only", {"min_score": 0.5, "nms_iou": 1.0}),
        ("min_score 0.3", {"min_score": 0.3}),
        ("min_score 0.25", {"min_score": 0.25}),
        ("min_score 0.2", {"min_score": 0.2}),
        ("min_score 0.15", {"min_score": 0.15}),
        ("min_score 0.18, graph NMS only", {"nms_iou": 1.0}),
        ("min_score 0.18, NMS 0.35", {"nms_iou": 0.35}),
        ("2 strips + whole frame", {"tiles": 2}),
        ("2 strips, min_score 0.3", {"tiles": 2, "min_score": 0.3}),
        ("3 strips + whole frame", {"tiles": 3}),
    ],
}


def _build(backend: str, params: dict):
    if backend == "hog":
        from pipeline.detectors.hog import HogDetector

        return HogDetector(**params)
    if backend == "ssdlite":
        from pipeline.detectors.ssdlite import SsdliteDetector

        return SsdliteDetector(**params)
    raise ValueError(f"no sweep for {backend}")


def _sweep(backend: str, data: Path, step: int, widths: list[int]) -> list[dict]:
    rows = []
    for label, kw in SWEEPS[backend]:
        for width in widths:
            res = evaluate(_build(backend, kw), width, data, step)
            rows.append({"backend": backend, "label": label, "width": width, "params": kw, **res})
            print(table_row(f"{backend} {label}", width, res["all"]), flush=True)
    return rows


HEADER = (
    "| detector | width | present R real | box P real | box R real | present R desk | "
    "box P desk | box R desk | empty plates with a detection | plates with desks |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def table_row(label: str, width: int, r: dict) -> str:
    def f(v) -> str:
        return "-" if v is None else f"{v:.3f}"

    real, desk, plate, dplate = r["real"], r["desk"], r["plate"], r["desk_plate"]
    return (
        f"| {label} | {width} | {f(real['present_recall'])} | {f(real['precision'])} | "
        f"{f(real['recall'])} | {f(desk['present_recall'])} | {f(desk['precision'])} | "
        f"{f(desk['recall'])} | {plate['frames_with_detection']}/{plate['frames']} "
        f"(max {plate['max_score']:.2f}) | {dplate['frames_with_detection']}/{dplate['frames']} "
        f"(max {dplate['max_score']:.2f}) |"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--backend",
        default="auto",
        help="comma-separated: auto, ssdlite, hog, yolo, yolo:WEIGHTS (yolo:yolo11n.yaml is an "
        "untrained network: plumbing only), or 'all' = ssdlite,hog,yolo:yolo11n.yaml",
    )
    p.add_argument(
        "--width", type=int, action="append", help="analysis width(s) (default: config and 640)"
    )
    p.add_argument("--step", type=int, default=1, help="evaluate every STEP-th frame")
    p.add_argument("--sweep", choices=sorted(SWEEPS), help="try the settings listed in SWEEPS")
    p.add_argument("--no-timing", action="store_true", help="skip the ms-per-frame measurement")
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
    from pipeline.inputs.config import Analysis

    widths = args.width or sorted({Analysis().width, 640})
    if args.sweep:
        print(HEADER)
        result: object = _sweep(args.sweep, data, args.step, widths)
    else:
        from pipeline.detectors import make_detector

        specs = "ssdlite,hog,yolo:yolo11n.yaml" if args.backend == "all" else args.backend
        dets = {}
        for spec in specs.split(","):
            try:
                dets[spec] = make_detector(spec)
            except ValueError as exc:  # e.g. yolo without ultralytics
                print(f"{spec}: skipped ({exc})")
        rows = []
        for spec, det in dets.items():
            print(f"{spec}: {det.name} ({det.reason})", flush=True)
            for width in widths:
                rows.append(
                    {
                        "spec": spec,
                        "backend": det.name,
                        "reason": det.reason,
                        "width": width,
                        **evaluate(det, width, data, args.step),
                    }
                )
        print(HEADER)
        for r in rows:
            print(table_row(r["spec"], r["width"], r["all"]))
        print("\nper clip:")
        for r in rows:
            for clip in CLIPS:
                print(table_row(f"{r['spec']} {clip}", r["width"], r[clip]))
        static = {
            spec: static_filter_check(det, Analysis().width, data)
            for spec, det in dets.items()
            if det.name != "yolo"  # an untrained network's boxes say nothing here
        }
        print("\nstatic look-alike filter (clip as one session, every 5th frame; plates):")
        print(json.dumps(static, indent=1))
        timing = {} if args.no_timing else ms_per_frame(dets, data)
        if timing:
            print("\nCPU ms per 640x480 frame, one core (median of 3 alternating rounds):")
            for spec, ms in timing.items():
                print(f"  {spec}: {ms}")
        result = {"rows": rows, "static_filter": static, "ms_per_640_frame_one_core": timing}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
