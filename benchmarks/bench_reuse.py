"""Re-used footage after an export: the robustness matrix and the cost of the search (issue 18).

1. The matrix, on footage built from the real MOT15 clips (benchmarks/reuse_media.py): a
   36 s session, 28 s of it exported and filed for another room a week later, through each
   transformation alone and combined; found seconds of the copy / expected. Negative controls
   (the same room with other people, empty vs occupied, a second camera of the same moment,
   another session exported the same way): false seconds, which must be 0.
2. Cost: fingerprinting per video-hour (the per-sample signals at the analysis size), the
   frame-by-frame confirmation per candidate, and the candidate search over >= 1,000
   camera-hours of synthetic motion grids (100 rooms x 10 one-hour sessions: a pacing
   proctor and fidgeting seated candidates at each room's fixed seats, so sessions of one
   room look alike), with a few re-encoded copies planted to check they are still found.

Usage: python -m benchmarks.bench_reuse [--hours 1000] [--skip-matrix] [--real DIR]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np

from benchmarks.reuse_media import SIZE, Case, Export, analyse, build

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "reuse"
REAL = HERE.parents[1] / "shared" / "data" / "real"

ALONE = {
    "scale 0.71 and back": Export(scale=0.71),
    "brightness +6 %": Export(brightness=1.06),
    "contrast x1.2": Export(contrast=1.2),
    "gamma 1.3": Export(gamma=1.3),
    "CRF 33": Export(crf=33),
    "H.265 (CRF 28)": Export(codec="libx265", crf=28),
    "fps 25 -> 10": Export(fps=10),
    "re-timed 300 ms": Export(retime_s=0.3),
    "re-timed 1 s (worst phase)": Export(retime_s=1.0),
    "crop 5 %": Export(crop=0.05),
    "issue trial: 0.71, +6 %, CRF 33": Export(scale=0.71, brightness=1.06, crf=33),
    "all combined (H.265)": Export(
        scale=0.71,
        brightness=1.06,
        contrast=1.1,
        gamma=1.2,
        crf=33,
        codec="libx265",
        fps=10,
        retime_s=0.3,
        crop=0.05,
    ),
}
NEGATIVE = {
    "same room, other people": Case("n_other", negative="other_people"),
    "same room, empty vs occupied": Case("n_empty", negative="empty"),
    "two cameras of one room": Case("n_cams", negative="two_cameras"),
    "other people, exported (0.71, CRF 33)": Case(
        "n_px", negative="other_people_export", extra={"scale": 0.71, "crf": 33}
    ),
}


def matrix(real: Path) -> list[tuple[str, str, float]]:
    rows = []
    for i, (name, ex) in enumerate(ALONE.items()):
        case = Case(f"c{i}", ex)
        t0 = time.perf_counter()
        events, _, _ = analyse(build(case, real, WORK))
        found = sum(e.duration_s for e in events if e.details.get("matched_file") == "s1.mp4")
        tr = events[0].details.get("transform", {}) if events else {}
        note = ", ".join(f"{k}={v}" for k, v in tr.items() if k != "original_fps")
        secs = time.perf_counter() - t0
        rows.append((name, f"{found:.1f} / {case.copy_s:.0f} s", note, secs))
    for name, case in NEGATIVE.items():
        t0 = time.perf_counter()
        events, nominated, _ = analyse(build(case, real, WORK))
        false = sum(e.duration_s for e in events)
        rows.append((name, f"{false:.1f} s false", f"{len(nominated)} nominated", 0.0))
    return rows


def fingerprint_cost(n: int = 300) -> float:
    """Seconds of per-sample fingerprint signals per video-hour (one sample per 2 s)."""
    from pipeline.signals.fingerprint import (
        ahash,
        cell_means,
        grid_thumb,
        motion_cells,
        motion_grid,
        phash,
        thumbnail,
    )

    rng = np.random.default_rng(0)
    w, h = SIZE
    frames = rng.integers(0, 255, (n, h, w), dtype=np.uint8)
    prev = prev_g = None
    t0 = time.perf_counter()
    for g in frames:
        thumb = thumbnail(g)
        cells = cell_means(g, thumb)
        phash(g, thumb)
        ahash(g, thumb)
        motion_cells(cells, prev)
        small = grid_thumb(g)
        motion_grid(small, prev_g)
        prev, prev_g = cells, small
    return (time.perf_counter() - t0) / n * 1800


def session_energy(rng: np.random.Generator, room_seed: int, samples: int) -> np.ndarray:
    """Motion energy ``(samples, 64)`` of one synthetic session of room ``room_seed`` (its
    seats and the proctor's start are the room's): a pacing proctor and 4 fidgeting seated
    candidates; still samples are all zero. Shared with bench_crosscheck."""
    cy, cx = np.mgrid[0:8, 0:8]
    centres = np.stack([cx.ravel() + 0.5, cy.ravel() + 0.5], axis=1)
    room = np.random.default_rng(room_seed)
    seats = room.uniform(0.5, 7.5, (4, 2))
    steps = rng.normal(0, 0.25, (samples, 2)) * (rng.random((samples, 1)) < 0.6)
    pos = np.clip(np.cumsum(steps, axis=0) + room.uniform(2, 6, 2), 0.2, 7.8)
    speed = np.linalg.norm(steps, axis=1)
    d = ((centres[None] - pos[:, None]) ** 2).sum(-1)
    e = speed[:, None] * np.exp(-d / 0.8)
    fidget = (rng.random((samples, 4)) < 0.3) * rng.uniform(0.1, 0.6, (samples, 4))
    for s in range(4):
        e += fidget[:, s : s + 1] * np.exp(-((centres - seats[s]) ** 2).sum(-1) / 0.5)[None]
    e = np.maximum(e + rng.normal(0, 0.01, e.shape), 0)
    e[e.sum(axis=1) < 0.05] = 0
    return e


def synthetic(hours: int, seed: int = 0, copies: int = 5):
    """Unit motion vectors of ``hours`` one-hour sessions (2 s samples), 10 per room, with
    ``copies`` planted 60 s re-encoded copies; returns (u, moving, tf, file_rank, planted)."""
    rng = np.random.default_rng(seed)
    per = 1800
    u = np.zeros((hours * per, 64), np.float16)
    for f in range(hours):
        e = session_energy(rng, f // 10, per)
        v = e - e.mean(axis=1, keepdims=True)
        v /= np.linalg.norm(v, axis=1, keepdims=True) + 1e-6
        v[e.sum(axis=1) == 0] = 0
        u[f * per : (f + 1) * per] = v
    planted = []
    for k in range(copies):
        src = (10 * k + 1) % hours
        dst = (src + hours // 2) % hours
        a, b = src * per + 300, dst * per + 900
        noisy = u[a : a + 30].astype(np.float32) + rng.normal(0, 0.08, (30, 64))
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True) + 1e-6
        u[b : b + 30] = noisy
        planted.append((b, b + 30))
        planted.append((a, a + 30))  # the copy may rank first
    moving = np.abs(u).sum(axis=1) > 0
    tf = np.tile(np.arange(per) * 2.0, hours)
    file_rank = np.repeat(np.arange(hours), per)
    return u, moving, tf, file_rank, planted


def search_cost(hours: int) -> dict:
    from pipeline.findings.loops import search

    t0 = time.perf_counter()
    u, moving, tf, file_rank, planted = synthetic(hours)
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    spans = search(u, moving, tf, file_rank, 20.0)
    secs = time.perf_counter() - t0
    pairs = list(zip(planted[::2], planted[1::2], strict=True))
    hit = sum(any(c0 < b and a <= c1 for c0, c1, *_ in spans for a, b in pair) for pair in pairs)
    false = [s for s in spans if not any(s[0] < b and a <= s[1] for a, b in planted)]
    return {
        "hours": hours,
        "samples": len(u),
        "moving_share": round(float(moving.mean()), 2),
        "build_s": round(built, 1),
        "search_s": round(secs, 1),
        "planted_found": f"{hit}/{len(pairs)}",
        "other_stretches": len(false),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=int, default=1000)
    ap.add_argument("--skip-matrix", action="store_true")
    ap.add_argument("--real", type=Path, default=REAL)
    args = ap.parse_args()
    if not args.skip_matrix:
        print("| transformation / control | result | transform found (or candidates) | s |")
        print("|---|---|---|---|")
        for name, result, note, secs in matrix(args.real):
            print(f"| {name} | {result} | {note} | {secs:.1f} |")
    print(f"\nfingerprint signals: {fingerprint_cost():.2f} s per video-hour (320 px, 2 s samples)")
    cost = search_cost(args.hours)
    print(f"candidate search over {cost['hours']} camera-hours: {cost}")
    print(f"search per video-hour: {1000 * cost['search_s'] / cost['hours']:.1f} ms")


if __name__ == "__main__":
    main()
