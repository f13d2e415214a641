"""Real people for the sample rooms, cut out of the MOT15 TUD clips.

``build_asset()`` rebuilds ``assets/people/`` from ``shared/data/real/`` (TUD-Campus and
TUD-Stadtmitte with their MOT ground-truth boxes): for a few people it takes frames where the
person's box is inside the picture and not overlapped by anyone else, separates the person from
the street with a difference to a background plate (per-pixel median over frames where no box
covers the pixel), cleans the mask with morphology, keeps the largest blob, feathers its edge,
and stores the RGBA cut-outs downscaled as one PNG strip per person plus ``index.json``.
The generator reads only the asset (``load_people()``), never the clips.

Run: ``python -m pipeline.samples.cutouts [REAL_DIR]``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

ASSET_DIR = Path(__file__).with_name("assets") / "people"
REAL_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real"
CELL_HEIGHT = 176  # stored person height in pixels
FRAMES_PER_PERSON = 24
# (clip, MOT track id): people walking alone, big enough, long enough.
PEOPLE = (
    ("TUD-Campus", 1),
    ("TUD-Campus", 7),
    ("TUD-Stadtmitte", 2),
    ("TUD-Stadtmitte", 7),
)
ATTRIBUTION = """# People cut-outs: attribution and licence

The RGBA cut-outs in this folder are derived from the MOT15 (2D MOT 2015, MOTChallenge)
sequences TUD-Campus and TUD-Stadtmitte (TU Darmstadt; M. Andriluka, S. Roth, B. Schiele),
cut out with the benchmark's ground-truth boxes. MOTChallenge data is licensed under
Creative Commons Attribution-NonCommercial-ShareAlike 3.0 (CC BY-NC-SA 3.0); these derived
cut-outs are shared under the same licence. index.json lists the source clip, track id and
frames of every cut-out.

Rebuild: `python -m pipeline.samples.cutouts /path/to/shared/data/real`
"""


@dataclass(frozen=True)
class Person:
    """One person's walking cut-outs: RGBA frames (straight alpha), all the same cell size,
    feet at the bottom centre of the cell; ``stand`` is the frame with the narrowest stride."""

    name: str
    frames: tuple[np.ndarray, ...]
    stand: int
    facing: int  # +1 walks to the right in the source frames, -1 to the left


def _read_clip(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def _background(frames: list[np.ndarray], boxes: np.ndarray, max_frames: int = 60) -> np.ndarray:
    """Per-pixel median over frames where no ground-truth box (grown a little) covers it."""
    step = max(1, len(frames) // max_frames)
    stack, masks = [], []
    h, w = frames[0].shape[:2]
    for i in range(0, len(frames), step):
        covered = np.zeros((h, w), bool)
        for x, y, bw, bh in boxes[boxes[:, 0] == i + 1][:, 2:6]:
            x0, y0 = int(max(0, x - 0.1 * bw)), int(max(0, y - 0.05 * bh))
            covered[y0 : int(y + 1.05 * bh), x0 : int(x + 1.1 * bw)] = True
        stack.append(frames[i].astype(np.float32))
        masks.append(covered)
    data = np.stack(stack)
    cover = np.stack(masks)
    plain = np.median(data, axis=0)
    data[cover] = np.nan
    with np.errstate(all="ignore"):
        clean = np.nanmedian(data, axis=0)
    return np.where(np.isnan(clean), plain, clean).astype(np.uint8)


def _clean_frames(
    boxes: np.ndarray, track: int, size: tuple[int, int]
) -> list[tuple[int, np.ndarray]]:
    w_img, h_img = size
    rows = boxes[boxes[:, 1] == track]
    out = []
    for row in rows:
        frame, (x, y, w, h) = int(row[0]), row[2:6]
        if x < 0 or y < 0 or x + w > w_img or y + h > h_img:
            continue
        others = boxes[(boxes[:, 0] == frame) & (boxes[:, 1] != track)]
        overlap = 0.0
        for o in others:
            ix = max(0.0, min(x + w, o[2] + o[4]) - max(x, o[2]))
            iy = max(0.0, min(y + h, o[3] + o[5]) - max(y, o[3]))
            overlap = max(overlap, ix * iy / (w * h))
        if overlap < 0.03:
            out.append((frame - 1, row[2:6]))
    return out


def _cutout(frame: np.ndarray, background: np.ndarray, box: np.ndarray) -> np.ndarray:
    """RGBA crop of the person in ``box``: foreground = difference to the background plate."""
    x, y, w, h = box
    pad_x, pad_y = int(0.15 * w), int(0.04 * h)
    x0, y0 = max(0, int(x) - pad_x), max(0, int(y) - pad_y)
    x1 = min(frame.shape[1], int(x + w) + pad_x)
    y1 = min(frame.shape[0], int(y + h) + pad_y)
    crop, plate = frame[y0:y1, x0:x1], background[y0:y1, x0:x1]
    diff = cv2.absdiff(cv2.GaussianBlur(crop, (3, 3), 0), cv2.GaussianBlur(plate, (3, 3), 0)).max(
        axis=2
    )
    mask = (diff > 22).astype(np.uint8)
    # only inside the (slightly grown) ground-truth box
    inside = np.zeros_like(mask)
    bx0, by0 = int(x) - x0 - int(0.05 * w), int(y) - y0 - int(0.02 * h)
    inside[max(0, by0) : int(y + 1.02 * h) - y0, max(0, bx0) : int(x + 1.05 * w) - x0] = 1
    mask &= inside
    mask = cv2.morphologyEx(
        mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    )
    mask = cv2.morphologyEx(
        mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    )
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
    if count > 1:
        keep = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        mask = (labels == keep).astype(np.uint8)
    # fill holes: flood the outside, everything else is the person
    flood = np.pad(mask, 1) * 255
    cv2.floodFill(flood, None, (0, 0), 128)
    mask = (flood[1:-1, 1:-1] != 128).astype(np.uint8)
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (3, 3), 0)
    rgba = np.dstack([crop, (alpha * 255).round().astype(np.uint8)])
    rgba[..., :3][alpha == 0] = 0
    # tight crop around the mask
    ys, xs = np.nonzero(alpha > 0)
    return rgba[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _to_cells(cutouts: list[np.ndarray]) -> np.ndarray:
    """Scale every cut-out to CELL_HEIGHT (same factor for the person) and pad to one cell size."""
    scale = CELL_HEIGHT / float(np.median([c.shape[0] for c in cutouts]))
    scaled = []
    for c in cutouts:
        h = round(c.shape[0] * scale)
        w = max(1, round(c.shape[1] * scale))
        scaled.append(cv2.resize(c, (w, min(h, CELL_HEIGHT)), interpolation=cv2.INTER_AREA))
    cell_w = max(s.shape[1] for s in scaled) + 2
    cells = np.zeros((len(scaled), CELL_HEIGHT, cell_w, 4), np.uint8)
    for i, s in enumerate(scaled):
        h, w = s.shape[:2]
        x0 = (cell_w - w) // 2
        cells[i, CELL_HEIGHT - h :, x0 : x0 + w] = s  # feet on the bottom edge
    return cells


def build_asset(real_dir: Path = REAL_DIR, out_dir: Path = ASSET_DIR) -> Path:
    """Rebuild the people asset from the real clips (needs shared/data/real)."""
    real_dir, out_dir = Path(real_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    index = {"cell_height": CELL_HEIGHT, "licence": "CC BY-NC-SA 3.0", "people": []}
    cache: dict[str, tuple] = {}
    for clip, track in PEOPLE:
        if clip not in cache:
            frames = _read_clip(real_dir / f"{clip}.mp4")
            boxes = np.loadtxt(real_dir / f"{clip}.gt.txt", delimiter=",")
            boxes = boxes[boxes[:, 6] != 0]
            cache[clip] = (frames, boxes, _background(frames, boxes))
        frames, boxes, plate = cache[clip]
        size = frames[0].shape[1], frames[0].shape[0]
        chosen = _clean_frames(boxes, track, size)[:FRAMES_PER_PERSON]
        if len(chosen) < 8:
            raise ValueError(f"{clip} track {track}: only {len(chosen)} unoccluded frames")
        cuts = [_cutout(frames[i], plate, box) for i, box in chosen]
        cells = _to_cells(cuts)
        name = f"{clip}-{track}"
        strip = np.concatenate(list(cells), axis=1)
        cv2.imwrite(str(out_dir / f"{name}.png"), strip, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        widths = [(c[..., 3] > 0).any(axis=0).sum() for c in cells]
        xs = [box[0] for _, box in chosen]
        index["people"].append(
            {
                "name": name,
                "file": f"{name}.png",
                "source": f"{clip}.mp4",
                "track": track,
                "source_frames": [i for i, _ in chosen],
                "frames": len(cells),
                "cell_width": int(cells.shape[2]),
                "stand": int(np.argmin(widths)),
                "facing": 1 if xs[-1] >= xs[0] else -1,
            }
        )
    (out_dir / "index.json").write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    (out_dir / "ATTRIBUTION.md").write_text(ATTRIBUTION, encoding="utf-8")
    return out_dir


@lru_cache(maxsize=2)
def load_people(asset_dir: Path = ASSET_DIR) -> tuple[Person, ...]:
    """The committed cut-outs (limited-range BGRA frames ready to composite)."""
    index = json.loads((Path(asset_dir) / "index.json").read_text(encoding="utf-8"))
    people = []
    for entry in index["people"]:
        strip = cv2.imread(str(Path(asset_dir) / entry["file"]), cv2.IMREAD_UNCHANGED)
        if strip is None or strip.ndim != 3 or strip.shape[2] != 4:
            raise ValueError(f"{asset_dir / entry['file']}: not an RGBA PNG strip")
        cw = entry["cell_width"]
        frames = []
        for k in range(entry["frames"]):
            cell = strip[:, k * cw : (k + 1) * cw].copy()
            cell[..., :3] = cv2.convertScaleAbs(cell[..., :3], alpha=219 / 255, beta=16)
            cell.setflags(write=False)
            frames.append(cell)
        people.append(Person(entry["name"], tuple(frames), entry["stand"], entry["facing"]))
    return tuple(people)


if __name__ == "__main__":
    print(build_asset(Path(sys.argv[1]) if len(sys.argv) > 1 else REAL_DIR))
