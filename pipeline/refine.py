"""Coarse to fine: place boundaries found from sparse samples, decoding only around them.

A finder knows a boundary only to within one sampling step: the last sample outside the
state and the first inside (``details.start_bracket_s`` / ``end_bracket_s``, file offsets).
Where that bracket is wider than ``2 x max_error_s``, just those seconds are decoded again
(from the keyframe before, every frame, scaled down) and the same per-picture test the
analysers use is applied to each frame (black, frozen, view changed). Events that the finder
kept as candidates up to one step short of the site's minimum duration (``details.min_s``)
are dropped when the refined duration is still below it.

Looped footage is verified frame by frame (hash matches only nominate candidates) and its
ends placed by comparing copy and original frames; clock jumps are placed by reading the
clock on decoded keyframes (halving the bracket) and then every half second.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta

import numpy as np

from pipeline.errors import RecordingError
from pipeline.findings.view import view_test
from pipeline.inputs.config import Rules, Site
from pipeline.media.sampling import decode_window
from pipeline.records import Event, FileProbe
from pipeline.signals.picture import (
    BlackTest,
    FrozenTest,
    black_picture,
    frame_difference,
    gray_of,
    noise_sigma,
    still_score,
    without_overlay,
)

log = logging.getLogger("examaudit")

REFINE_STEP_S = 0.1  # evaluate one frame per this much time inside a bracket
# a copied frame matches its original within this (grey levels, quarter analysis size)
LOOP_SAME_MIN = 0.6  # ... and at most twice its difference at the middle of the stretch


def frame_test(
    kind: str, details: Mapping, reference: np.ndarray | None, rules: Rules
) -> Callable | None:
    """Per-frame test for ``kind``: luma image -> in the state? (the finder's test, with the
    site's limits: the relaxed values that keep a run going)"""
    if kind == "black":
        limits = BlackTest.of(rules)
        return lambda g: black_picture(g, limits)
    if kind == "frozen" and reference is not None:
        noise = noise_sigma(reference)
        f = FrozenTest.of(rules)

        def frozen(g: np.ndarray) -> bool:
            diff = np.array([frame_difference(g, reference)])
            return bool(still_score(diff, np.array([noise]), f)[0] <= f.ratio_exit)

        return frozen
    if kind == "view":
        return view_test(details, (rules.view_changed_distance + rules.view_restored_distance) / 2)
    return None


def _boundary(
    probe: FileProbe,
    site: Site,
    camera_id: str,
    kind: str,
    details: Mapping,
    lo: float,
    hi: float,
    *,
    start: bool,
) -> float | None:
    """File offset where the state begins (``start``) or ends inside ``[lo, hi]``."""
    t, frames = decode_window(probe.path, lo, hi, width=site.analysis.width, step_s=REFINE_STEP_S)
    if len(t) < 2:
        return None
    gray = without_overlay(gray_of(frames), site.camera(camera_id).clock_region)
    # inside the state is the bracket's end at a start, its beginning at an end
    inside = gray[-1] if start else gray[0]
    test = frame_test(kind, details, inside, site.rules)
    if test is None:
        return None
    flags = np.fromiter((test(g) for g in gray), dtype=bool, count=len(gray))
    if start:
        if not flags[-1]:
            return None
        outside = np.flatnonzero(~flags)
        return float(t[outside[-1] + 1]) if len(outside) else float(t[0])
    if not flags[0]:
        return None
    outside = np.flatnonzero(~flags)
    return float(t[outside[0]]) if len(outside) else float(t[-1])


def _refine_loop(event: Event, probes: Mapping[str, FileProbe], site: Site) -> Event | None:
    """Verify a repeated stretch frame by frame and place its ends; None when it is not one.

    Sparse motion grids only nominate candidates. :func:`pipeline.refine_loop.verify` aligns
    copy and original in time (frame-exact lag), geometry (scale, crop) and brightness, and
    confirms that they show the same motion; else the candidate is dropped. Then, around each
    end, each copy frame is compared with the original frame at that lag, in that geometry and
    brightness: inside the loop they are the same picture, outside they are not.
    """
    from pipeline.refine_loop import difference, small, verify

    d = dict(event.details)
    copy = probes.get(str(d.get("start_file")))
    orig = probes.get(str(d.get("matched_file")))
    if copy is None or orig is None or copy.start is None or d.get("end_file") != d["start_file"]:
        return event
    cam = event.camera_id or ""
    ocam = d.get("matched_camera") or cam
    step = float(d.get("sample_step_s") or site.analysis.sample_every_s)
    c0, c1 = float(d["start_t_file_s"]), float(d["end_t_file_s"])

    def frames(probe: FileProbe, lo: float, hi: float, step_s: float):
        t, frames = decode_window(
            probe.path, max(0.0, lo), hi, width=site.analysis.width, step_s=step_s
        )
        camera = cam if probe is copy else ocam
        gray = without_overlay(gray_of(frames), site.camera(camera).clock_region)
        return t, np.asarray([small(g) for g in gray])

    match = verify(frames, copy, orig, d, step)
    if match is None:
        log.info("looped_footage candidate at %s not confirmed frame by frame", event.start)
        return None
    lag = match.lag
    mid = (c0 + c1) / 2
    tc, gc = frames(copy, mid, mid, 0.0)
    _, go = frames(orig, mid - lag - 0.05, mid - lag + 0.05, 0.0)
    inside = min((difference(gc[0], g, match) for g in go), default=0.0) if len(tc) else 0.0
    same_max = max(LOOP_SAME_MIN, 2.0 * inside)

    def find(centre: float, start: bool) -> float | None:
        """Walk windows of three steps until one holds the copy's start (or end)."""
        for _ in range(3):
            # the same span in both files, so both are sampled at the same frames
            lo = max(0.0, centre - 1.5 * step, lag)
            hi = min(centre + 1.5 * step, copy.duration_s)
            if hi - lo < REFINE_STEP_S:
                return None
            tc, gc = frames(copy, lo, hi, REFINE_STEP_S)
            to, go = frames(orig, lo - lag - 0.1, hi - lag + 0.1, 0.0)
            if len(tc) < 2 or not len(to):
                return None
            flags = np.zeros(len(tc), dtype=bool)
            for i, (t, g) in enumerate(zip(tc, gc, strict=True)):
                k = int(np.argmin(np.abs(to - (t - lag))))
                near = abs(to[k] - (t - lag)) <= 0.6 / max(float(orig.fps or 25.0), 1.0)
                flags[i] = near and difference(g, go[k], match) <= same_max
            inside_end = flags[-1] if start else flags[0]
            if flags.all() and start and lo <= max(0.0, lag) + 1e-3:
                return lo  # the copy starts with the file (or with the original's start)
            if flags.all() and not start and hi >= copy.duration_s - 0.2:
                return copy.duration_s  # ... or runs to the end of the file
            if flags.all() or not flags.any():
                # wholly inside or outside: look further out (inside) or in (outside)
                centre += (-2.5 if flags.all() == start else 2.5) * step
                continue
            if not inside_end:
                centre += (2.5 if start else -2.5) * step
                continue
            outside = np.flatnonzero(~flags)
            return float(tc[outside[-1] + 1]) if start else float(tc[outside[0]])
        return None

    bounds = [find(c0, True), find(c1, False)]
    a, b = bounds
    start = copy.at(a) if a is not None else event.start
    end = copy.at(b) if b is not None else event.end
    if a is not None:
        d["start_t_file_s"] = round(a, 3)
        d["matched_t_file_s"] = round(a - lag, 3)
    if b is not None:
        d["end_t_file_s"] = round(b, 3)
    d["lag_s"] = round(lag, 3)
    d["refined"] = True
    d["frame_difference"] = round(inside, 3)
    d["transform"] = match.details(copy, orig)
    if (end - start).total_seconds() < float(d.get("min_s", 0.0)) - 1e-3:
        return None  # the verified repeat is shorter than the site's minimum
    return replace(event, start=start, end=max(start, end), details=d)


def _refine_clock_jump(
    event: Event, probes: Mapping[str, FileProbe], site: Site, max_error_s: float
) -> Event:
    """Place a clock jump between the two reads that bracket it, to about half a second.

    A wide bracket (reads from two chunks, or sparse sampling) is first halved on decoded
    keyframes, each OCR'd and classed with the offset before or after the jump; then the
    clock is read every half second in the last couple of seconds (it shows whole seconds,
    so that is all continuity needs).
    """
    from pipeline.signals.clock import MIN_SCORE, clock_offset, parse_clock, recognise

    d = dict(event.details)
    bracket = d.get("start_bracket_s")
    probe = probes.get(str(d.get("start_file")))
    region = site.camera(event.camera_id or "").clock_region
    if not bracket or probe is None or probe.start is None or region is None:
        return event
    a, b = (float(v) for v in bracket)
    if b - a <= 2 * max_error_s:
        return event  # the midpoint the finder reported is already that close
    width = min(int(probe.width or 1280), 1280)
    before, after = float(d["offset_before_s"]), float(d["offset_after_s"])
    x, y, rw, rh = region

    def side(frame: np.ndarray, t: float) -> bool | None:
        """True when the clock at file offset ``t`` reads as after the jump."""
        h, w = frame.shape[:2]
        crop = gray_of(frame)[int(y * h) : int((y + rh) * h), int(x * w) : int((x + rw) * w)]
        text, score = recognise(crop)
        parsed = parse_clock(text) if score >= MIN_SCORE else None
        off = clock_offset(parsed, probe.at(t), site.tz) if parsed else None
        return None if off is None else abs(off - after) < abs(off - before)

    keys = np.asarray(probe.keyframes_s, dtype=np.float64)
    for _ in range(16):  # halve on keyframes: each decodes alone
        inside = keys[(keys > a + 0.5) & (keys < b - 0.5)]
        if b - a <= 4.0 or not len(inside):
            break
        k = float(inside[np.argmin(np.abs(inside - (a + b) / 2))])
        t, frames = decode_window(probe.path, k, k, width=width)
        got = side(frames[0], float(t[0])) if len(t) else None
        if got is None:  # unreadable here (covered lens...): give up halving
            break
        a, b = (a, k) if got else (k, b)
    t, frames = decode_window(probe.path, a + 0.5, b - 0.25, width=width, step_s=0.5)
    for ti, frame in zip(t, frames, strict=True):
        got = side(frame, float(ti))
        if got is None:
            continue
        if got:
            b = min(b, float(ti))
        else:
            a = max(a, float(ti))
    if b <= a:
        return event
    at = (a + b) / 2
    d["start_t_file_s"] = round(at, 3)
    d["start_bracket_s"] = [a, b]
    d["refined"] = True
    start = probe.at(at)
    return replace(event, start=start, end=max(start, event.end), details=d)


def refine_events(
    events: list[Event],
    probes: Mapping[str, FileProbe],
    site: Site,
    *,
    max_error_s: float = 1.0,
) -> list[Event]:
    """Refine black / frozen / view-changed boundaries, verify and place looped footage, and
    place clock jumps to the second; other events pass through unchanged.

    A boundary is decoded again only where its sample bracket is wider than ``2 x
    max_error_s`` (the finder's midpoint is then off by more than ``max_error_s``): with the
    default 2 s sampling that is never, so refinement costs nothing unless ``--sample-every``
    is sparser. Looped footage is always verified frame by frame (see :func:`_refine_loop`).

    ``probes`` maps a file name (``Event.source_file``, ``details.start_file``) to its probe.
    A file that cannot be decoded again leaves the sampled estimate in place.
    """
    out: list[Event] = []
    for event in events:
        details = dict(event.details)
        kind = details.get("test")
        if event.kind == "looped_footage":
            try:
                refined_loop = _refine_loop(event, probes, site)
                if refined_loop is not None:
                    out.append(refined_loop)
            except (RecordingError, OSError, ValueError, KeyError) as exc:
                log.warning("cannot refine %s: %s", event.kind, exc)
                out.append(event)
            continue
        if event.kind == "clock_jump" and kind == "clock_jump":
            try:
                out.append(_refine_clock_jump(event, probes, site, max_error_s))
            except (RecordingError, OSError, ValueError, KeyError) as exc:
                log.warning("cannot refine %s: %s", event.kind, exc)
                out.append(event)
            continue
        if kind not in ("black", "frozen", "view"):
            out.append(event)
            continue
        start, end = event.start, event.end
        refined = False
        for side in ("start", "end"):
            bracket = details.get(f"{side}_bracket_s")
            probe = probes.get(str(details.get(f"{side}_file")))
            if not bracket or probe is None or probe.start is None:
                continue
            if bracket[1] - bracket[0] <= 2 * max_error_s:
                continue  # the midpoint the finder reported is already that close
            try:
                at = _boundary(
                    probe,
                    site,
                    event.camera_id or "",
                    kind,
                    details,
                    *bracket,
                    start=side == "start",
                )
            except (RecordingError, OSError, ValueError) as exc:
                log.warning("cannot refine %s %s: %s", event.kind, side, exc)
                at = None
            if at is None:
                continue
            refined = True
            details[f"{side}_t_file_s"] = round(at, 3)
            if side == "start":
                start = probe.at(at)
            else:
                end = probe.at(at)
        if not refined:
            out.append(event)
            continue
        details["refined"] = True
        end = max(end, start)
        min_s = float(details.get("min_s", 0.0))
        if (end - start) < timedelta(seconds=min_s) - timedelta(milliseconds=1):
            continue  # a candidate that stays short of the site's minimum
        out.append(replace(event, start=start, end=end, details=details))
    return _one_per_copy(out)


def _one_per_copy(events: list[Event]) -> list[Event]:
    """One looped_footage event per copied stretch: several nominations of it (through other
    lags or originals) that verified land on the same frames; keep the longest."""
    loops = sorted((e for e in events if e.kind == "looped_footage"), key=lambda e: -e.duration_s)
    kept: list[Event] = []
    for e in loops:
        if not any(
            k.source_file == e.source_file
            and k.session_id == e.session_id
            and min(k.end, e.end) - max(k.start, e.start) > 0.5 * (e.end - e.start)
            for k in kept
        ):
            kept.append(e)
    keep_ids = {id(e) for e in kept}
    return [e for e in events if e.kind != "looped_footage" or id(e) in keep_ids]
