"""Frame-by-frame verification of looped or re-used footage, robust to what an export does.

The sparse motion grids only nominate candidates. A copy must then show the same *motion*
as its original, frame by frame, once the two are aligned:

* **geometry**: an affine warp (scale, shift: a rescale or a crop of a few per cent) found by
  ECC between a copy frame and the original frame at the nominated lag; ECC maximises a
  zero-mean normalised correlation, so brightness and contrast do not disturb it;
* **time**: the lag is searched at the original's frame resolution within a sample step of
  the nominated one (the copy may run at another frame rate or be re-timed);
* **brightness**: compared on zero-mean, unit-variance pictures, and the gain/offset that maps
  the original's grey levels to the copy's is fitted and reported.

The test itself compares *change images* (a frame minus the frame ``PAIR_S`` later) of copy and
original: the static room cancels in both, so another session of the same room (other people,
or none) correlates near 0 while a re-encoded copy correlates near 1 (``MOTION_NCC``). A still
moment proves nothing either way, so up to ``MOMENTS`` moments of the stretch are tried, the
most moving first. The ends are then placed by comparing each copy frame with the original
frame at the found lag, in the found geometry and brightness (pipeline.refine walks them).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from pipeline.records import FileProbe

log = logging.getLogger("examaudit")

SMALL = (96, 72)  # compared at this size: coding noise and a few pixels of shift average out
BORDER = 0.08  # share of each side left out (a crop or warp leaves the edge undefined)
PAIR_S = 1.0  # a change image spans this much time
MOTION_NCC = 0.85  # change images correlate at least this much (copies: 0.98-1.0 measured)
MIN_CHANGE = 0.05  # mean |change| (normalised units) below this: a still moment, no evidence
MOMENTS = 3


@dataclass(frozen=True)
class Match:
    """How the copy maps onto the original: the found lag (copy offset - original offset),
    the affine warp (copy -> original geometry, at SMALL), the grey-level fit
    copy = gain * original + offset, and the change-image correlation that confirmed it."""

    lag: float
    warp: np.ndarray
    gain: float
    offset: float
    ncc: float

    @property
    def scale(self) -> float:
        return float(np.sqrt(abs(np.linalg.det(self.warp[:, :2]))))

    def details(self, copy: FileProbe, orig: FileProbe) -> dict[str, Any]:
        sx, sy = SMALL
        return {
            "scale": round(self.scale, 3),
            "shift": [round(float(self.warp[0, 2]) / sx, 3), round(float(self.warp[1, 2]) / sy, 3)],
            "brightness_gain": round(self.gain, 3),
            "brightness_offset": round(self.offset, 2),
            "copy_fps": round(float(copy.fps), 3) if copy.fps else None,
            "original_fps": round(float(orig.fps), 3) if orig.fps else None,
            "motion_ncc": round(self.ncc, 3),
        }


def small(gray: np.ndarray) -> np.ndarray:
    return cv2.resize(gray, SMALL, interpolation=cv2.INTER_AREA).astype(np.float32)


def _inner(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[-2:]
    by, bx = int(BORDER * h), int(BORDER * w)
    return img[..., by : h - by, bx : w - bx]


def _z(img: np.ndarray) -> np.ndarray:
    inner = _inner(img)
    return (inner - inner.mean()) / max(float(inner.std()), 1.0)


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-6 else 0.0


def estimate_warp(copy: np.ndarray, orig: np.ndarray) -> np.ndarray:
    """Affine warp taking the copy's (SMALL) picture onto the original's; identity if ECC
    does not converge."""
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 60, 1e-4)
    try:
        _, warp = cv2.findTransformECC(orig, copy, warp, cv2.MOTION_AFFINE, criteria, None, 3)
    except cv2.error:
        return np.eye(2, 3, dtype=np.float32)
    if not 0.8 <= np.sqrt(abs(np.linalg.det(warp[:, :2]))) <= 1.25:
        return np.eye(2, 3, dtype=np.float32)
    return warp


def warped(copy: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """The copy's SMALL picture in the original's geometry."""
    return cv2.warpAffine(
        copy,
        warp,
        SMALL,
        flags=cv2.INTER_LINEAR + cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )


def difference(copy: np.ndarray, orig: np.ndarray, m: Match) -> float:
    """Mean grey-level difference of a copy frame and an original frame (both SMALL) after
    mapping the copy onto the original's geometry and brightness."""
    c = _inner(warped(copy, m.warp))
    o = _inner(orig)
    return float(np.abs((c - m.offset) / max(m.gain, 1e-3) - o).mean())


def match_moment(
    tc: np.ndarray, gc: np.ndarray, to: np.ndarray, go: np.ndarray, lag: float, reach: float
) -> Match | None:
    """Align copy frames ``gc`` (times ``tc``, SMALL) with original frames ``go`` around
    ``lag`` +- ``reach``; None when the copy does not move there or does not match."""
    k1 = int(np.argmin(np.abs(tc - (tc[0] + PAIR_S))))
    if tc[k1] - tc[0] < 0.5 * PAIR_S:
        return None
    span = tc[k1] - tc[0]

    def search(warp: np.ndarray) -> tuple[float, int]:
        """Best change-image correlation over the lags, in this geometry."""
        dc = _z(warped(gc[k1], warp)) - _z(warped(gc[0], warp))
        if float(np.abs(dc).mean()) < MIN_CHANGE:
            return -1.0, -1
        best = (-1.0, -1)
        for m0 in np.flatnonzero(np.abs((tc[0] - to) - lag) <= reach):
            m1 = int(np.argmin(np.abs(to - (to[m0] + span))))
            if abs(to[m1] - to[m0] - span) <= 0.05:
                best = max(best, (_ncc(dc, _z(go[m1]) - _z(go[m0])), int(m0)))
        return best

    # the geometry is found on the frame at the nominated lag, then again on the best match
    # (people elsewhere can pull ECC off), keeping whichever explains the motion best
    j = int(np.argmin(np.abs(to - (tc[0] - lag))))
    tried = [
        (*search(w), i, w)
        for i, w in enumerate((np.eye(2, 3, dtype=np.float32), estimate_warp(gc[0], go[j])))
    ]
    score, m0, _, warp = max(tried, key=lambda x: (x[0], x[2]))
    if m0 < 0:
        return None
    again = estimate_warp(gc[0], go[m0])
    s2, m2 = search(again)
    if s2 > score:
        score, m0, warp = s2, m2, again
    if score < MOTION_NCC:
        return None
    # grey levels: copy = gain * original + offset (least squares over the inner picture)
    c = _inner(warped(gc[0], warp)).ravel()
    o = _inner(go[m0]).ravel()
    gain, offset = np.polyfit(o, c, 1) if float(o.std()) > 1e-3 else (1.0, 0.0)
    return Match(float(tc[0] - to[m0]), warp, float(gain), float(offset), score)


def moments(c0: float, c1: float, keys: np.ndarray) -> list[float]:
    """Up to MOMENTS starting times inside the stretch, the middle first, on keyframes where
    there are some (a keyframe decodes alone)."""
    span = max(0.0, c1 - c0 - PAIR_S - 0.2)
    picks = [c0 + span * f for f in (0.5, 0.25, 0.75)][:MOMENTS]
    inner = keys[(keys >= c0) & (keys <= c1 - PAIR_S - 0.2)]
    out = []
    for p in picks:
        if len(inner):
            p = float(inner[np.argmin(np.abs(inner - p))])
        if all(abs(p - q) > 0.5 for q in out):
            out.append(p)
    return out


def verify(
    frames, copy: FileProbe, orig: FileProbe, d: Mapping[str, Any], step: float
) -> Match | None:
    """Try the stretch's moments until one confirms (``frames(probe, lo, hi)`` -> t, SMALL
    luma pictures); None when none does."""
    c0, c1 = float(d["start_t_file_s"]), float(d["end_t_file_s"])
    lag = c0 - float(d["matched_t_file_s"])
    keys = np.asarray(copy.keyframes_s, dtype=np.float64)
    reach = 1.2 * step
    for m in moments(c0, c1, keys):
        tc, gc = frames(copy, m, m + PAIR_S + 0.05, 0.1)
        to, go = frames(orig, m - lag - reach, m + PAIR_S - lag + reach, 0.0)
        if len(tc) < 2 or len(to) < 2:
            continue
        found = match_moment(tc, gc, to, go, lag, reach)
        if found is not None:
            return found
    return None
