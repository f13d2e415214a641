"""Frame-by-frame verification of looped or re-used footage, robust to what an export does.

The sparse motion grids only nominate candidates. A copy must then show the same *motion*
as its original, frame by frame, once the two are aligned:

* **geometry**: an affine warp (scale, shift: a rescale or a crop of a few per cent) found by
  ECC between a copy frame and the original frame at the nominated lag; ECC maximises a
  zero-mean normalised correlation, so brightness and contrast do not disturb it;
* **time**: the lag is searched at the original's frame resolution within a sample step of
  the nominated one (the copy may run at another frame rate or be re-timed);
* **brightness**: compared on zero-mean, unit-variance pictures (change images) and after
  matching grey-level quantiles (whole pictures: brightness, contrast and gamma undone); the
  gain/offset that maps the original's grey levels to the copy's is fitted and reported.

The test itself compares *change images* (a frame minus the frame ``PAIR_S`` later) of copy and
original: the static room cancels in both, so another session of the same room (other people,
or none) correlates near 0 while a re-encoded copy correlates near 1 (``MOTION_NCC``). A still
moment proves nothing either way, so up to ``MOMENTS`` moments of the stretch are tried, the
most moving first (it fixes the lag), and the others must match at that lag (one miss per three
matches allowed: the stretch may run a sample past the loop). The aligned pictures must agree
evenly (``SPREAD_MAX``): a periodic motion (a blinking lamp, a repeated pose) can repeat a
change image, not the whole room. The ends are then placed by comparing each copy frame with
the original frame at the found lag, in the found geometry and brightness (pipeline.refine).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from pipeline.records import FileProbe

SMALL = (96, 72)  # compared at this size: coding noise and a few pixels of shift average out
BORDER = 0.08  # share of each side left out (a crop or warp leaves the edge undefined)
PAIR_S = 2.0  # a change image spans this much time (a seated candidate moves in seconds)
MOTION_NCC = 0.85  # change images correlate at least this much (copies: 0.98-1.0 measured)
MIN_CHANGE = 0.02  # mean |change| (normalised units) below this: a still moment, no evidence
CLEAR_CHANGE = 0.05  # ... and above this a moment that does not match counts against
MOMENTS = 5
# the worst cells' residual over the typical cell's: exported copies 1.4-2.4 on the matrix,
# another moment of a look-alike sample room 2.7 and more
SPREAD_MAX = 2.5


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
    spread: float = 0.0

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
            "residual_spread": round(self.spread, 2),
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


def relit(copy: np.ndarray, orig: np.ndarray) -> np.ndarray:
    """The copy's grey levels mapped onto the original's by matching their quantiles: any
    monotone change (brightness, contrast, gamma) is undone, while a person who is elsewhere
    still shows."""
    qs = np.linspace(0, 100, 65)
    return np.interp(copy, np.percentile(copy, qs), np.percentile(orig, qs)).astype(np.float32)


def residual(copy: np.ndarray, orig: np.ndarray, m: Match) -> np.ndarray:
    """Per-pixel difference of a copy frame and an original frame (both SMALL) once the copy
    is in the original's geometry and brightness (inner picture)."""
    c = _inner(warped(copy, m.warp))
    o = _inner(orig)
    return np.abs(relit(c, o) - o)


def difference(copy: np.ndarray, orig: np.ndarray, m: Match) -> float:
    """Mean grey-level difference after alignment (see :func:`residual`)."""
    return float(residual(copy, orig, m).mean())


def match_moment(
    tc: np.ndarray, gc: np.ndarray, to: np.ndarray, go: np.ndarray, lag: float, reach: float
) -> Match | None:
    """Align copy frames ``gc`` (times ``tc``, SMALL) with original frames ``go`` around
    ``lag`` +- ``reach``; None when the copy does not move there or does not match."""
    k1 = int(np.argmin(np.abs(tc - (tc[0] + PAIR_S))))
    if tc[k1] - tc[0] < 0.5 * PAIR_S:
        return None
    span = tc[k1] - tc[0]

    def scores(warp: np.ndarray) -> list[tuple[float, int, int]]:
        """Change-image correlation at each lag, in this geometry: (ncc, m0, m1)."""
        dc = _z(warped(gc[k1], warp)) - _z(warped(gc[0], warp))
        if float(np.abs(dc).mean()) < MIN_CHANGE:
            return []
        out = []
        for m0 in np.flatnonzero(np.abs((tc[0] - to) - lag) <= reach):
            m1 = int(np.argmin(np.abs(to - (to[m0] + span))))
            if abs(to[m1] - to[m0] - span) <= 0.05:
                out.append((_ncc(dc, _z(go[m1]) - _z(go[m0])), int(m0), m1))
        return out

    def best(warp: np.ndarray) -> tuple[float, int]:
        got = scores(warp)
        return max(got)[:2] if got else (-1.0, -1)

    # the geometry is found on the frame at the nominated lag, then again on the best match
    # (people elsewhere can pull ECC off), keeping whichever explains the motion best
    j = int(np.argmin(np.abs(to - (tc[0] - lag))))
    tried = [
        (*best(w), i, w)
        for i, w in enumerate((np.eye(2, 3, dtype=np.float32), estimate_warp(gc[0], go[j])))
    ]
    score, m0, _, warp = max(tried, key=lambda x: (x[0], x[2]))
    if m0 < 0:
        return None
    again = estimate_warp(gc[0], go[m0])
    s2, m2 = best(again)
    if s2 > score:
        score, m0, warp = s2, m2, again
    if score < MOTION_NCC:
        return None
    # slow motion correlates over a few tenths of a second: among the lags that explain the
    # motion about as well, the one whose whole pictures agree best is the frame-exact one
    probe = Match(0.0, warp, 1.0, 0.0, score)
    near = [(a, b, c) for a, b, c in scores(warp) if a >= score - 0.05]
    m0 = min(
        near,
        key=lambda x: difference(gc[0], go[x[1]], probe) + difference(gc[k1], go[x[2]], probe),
    )[1]
    # grey levels: copy = gain * original + offset (least squares over the inner picture)
    c = _inner(warped(gc[0], warp)).ravel()
    o = _inner(go[m0]).ravel()
    gain, offset = np.polyfit(o, c, 1) if float(o.std()) > 1e-3 else (1.0, 0.0)
    found = Match(float(tc[0] - to[m0]), warp, float(gain), float(offset), score)
    return replace(found, spread=residual_spread(gc[0], go[m0], found))


def residual_spread(copy: np.ndarray, orig: np.ndarray, m: Match) -> float:
    """How unevenly the aligned pictures differ: the worst cells' residual over the typical
    cell's. A copy differs by coding noise everywhere; the same room at another moment
    differs where the people are (a periodic motion, a lamp blinking, can repeat its change
    image, but not the whole picture)."""
    r = residual(copy, orig, m)
    h, w = r.shape
    cells = r[: h - h % 6, : w - w % 8].reshape(6, h // 6, 8, w // 8).mean(axis=(1, 3)).ravel()
    return float(np.sort(cells)[-3] / max(float(np.median(cells)), 0.5))


def moments(c0: float, c1: float, keys: np.ndarray, step: float) -> list[float]:
    """Up to MOMENTS starting times well inside the stretch (its ends are known to a sample
    step only), the middle first, on keyframes where there are some (one decodes alone)."""
    lo, hi = c0 + step, max(c0 + step, c1 - step - PAIR_S)
    picks = [lo + (hi - lo) * f for f in (0.5, 0.25, 0.75, 0.05, 0.95)][:MOMENTS]
    inner = keys[(keys >= lo) & (keys <= hi)]
    out: list[float] = []
    for p in picks:
        if len(inner):
            p = float(inner[np.argmin(np.abs(inner - p))])
        if all(abs(p - q) > 0.5 for q in out):
            out.append(p)
    return out


def verify(
    frames, copy: FileProbe, orig: FileProbe, d: Mapping[str, Any], step: float
) -> Match | None:
    """Check the stretch at up to MOMENTS moments (``frames(probe, lo, hi, step_s)`` -> t,
    SMALL luma pictures). The first moment that moves fixes the lag (searched a sample step
    around the nominated one); every further moving moment must match at that lag too (a
    chance look-alike does not hold over the whole stretch): one failure per three matches is
    allowed (the nominated stretch may run a sample past the loop's end). None when it fails
    more, or nothing moves."""
    c0, c1 = float(d["start_t_file_s"]), float(d["end_t_file_s"])
    lag = c0 - float(d["matched_t_file_s"])
    keys = np.asarray(copy.keyframes_s, dtype=np.float64)
    reach = 0.75 * step  # the finder placed the lag to a quarter step
    found: Match | None = None
    failed = matched = 0
    # the most moving moment first: it fixes the lag best (a pause makes the lag ambiguous)
    copies = [frames(copy, m, m + PAIR_S + 0.05, 0.1) for m in moments(c0, c1, keys, step)]
    copies = sorted((x for x in copies if len(x[0]) >= 2), key=lambda x: -_motion(x[1]))
    for tc, gc in copies:
        m = float(tc[0])
        to, go = frames(orig, m - lag - reach, m + PAIR_S - lag + reach, 0.0)
        if len(to) < 2:
            continue
        got = match_moment(tc, gc, to, go, lag, reach if found is None else 0.3)
        if got is None or got.spread > SPREAD_MAX:
            # a quiet moment (one weight shift) proves little either way once the lag is fixed
            failed += found is None or got is not None or _motion(gc) >= CLEAR_CHANGE
            if failed > 1 + matched // 3:
                return None  # two moments in a row do not match, or too many overall
            continue
        matched += 1
        if found is None:
            found, lag = got, got.lag
    return found if found is not None and failed <= matched // 3 else None


def _motion(gc: np.ndarray) -> float:
    """How much the copy changes over the moment (below MIN_CHANGE: no evidence)."""
    return float(np.abs(_z(gc[-1]) - _z(gc[0])).mean())
