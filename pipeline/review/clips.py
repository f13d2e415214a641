"""Clips, thumbnails and contact sheets for findings, written under EVIDENCE.

``cut_event_media`` is what scan calls; ``cut_one`` is the per-event unit (pure in its inputs,
safe to run as a Dask task: every write is atomic and an existing output for the same
``event_id`` is reused, so a re-run or a retried task does no work twice).

Layout: ``clips/<event_id>.mp4`` (+ ``clips/<event_id>_tail.mp4`` for events longer than
``site.review.max_clip_s``), ``thumbs/<event_id>.jpg``, ``thumbs/session_<session_id>.jpg``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from pipeline.checks.registry import kinds
from pipeline.inputs.config import Site
from pipeline.media.cutter import cut_clip
from pipeline.records import Event, FileProbe
from pipeline.review import media

log = logging.getLogger(__name__)

# Findings about video that does not exist or cannot be read: no clip, a card instead.
NO_VIDEO_KINDS = frozenset(k for k, spec in kinds().items() if not spec.has_video)
# Findings about people: their thumbnails show the detected persons.
PEOPLE_KINDS = frozenset(k for k, spec in kinds().items() if spec.people)
THUMB_WIDTH = 640
THUMB_MIN_WIDTH = 480  # small recordings are enlarged so the drawn labels stay legible


def clip_paths(event_id: str) -> tuple[str, str]:
    """Relative paths of the head clip and the tail clip of an event."""
    return f"clips/{event_id}.mp4", f"clips/{event_id}_tail.mp4"


def thumb_path(event_id: str) -> str:
    return f"thumbs/{event_id}.jpg"


def cut_event_media(
    events: Sequence[Event],
    probes: Mapping[str, FileProbe],
    evidence_dir: Path,
    site: Site,
    detector: object | None = "auto",
) -> list[Event]:
    """Cut clips and draw thumbnails for every event; returns the events with ``clip``/``thumb``.

    ``detector`` (a :class:`pipeline.detectors.Detector`) draws person boxes on thumbnails of
    people findings; ``"auto"`` builds the offline HOG detector once per process, ``None``
    draws the zones only. One bad event never stops the others: its thumbnail becomes a card
    naming the error.
    """
    return [cut_one(e, probes, evidence_dir, site, detector) for e in events]


def cut_one(
    event: Event,
    probes: Mapping[str, FileProbe],
    evidence_dir: Path,
    site: Site,
    detector: object | None = "auto",
) -> Event:
    """Media for one event: head (and tail) clip plus thumbnail, reused when already written."""
    evidence_dir = Path(evidence_dir)
    eid = event.event_id
    head_rel, tail_rel = clip_paths(eid)
    thumb_rel = thumb_path(eid)
    clip: str | None = None
    try:
        clip = _clips(event, probes, evidence_dir, site, head_rel, tail_rel)
    except Exception as exc:  # never lose the finding because its clip failed
        log.warning("clip for %s failed: %s", eid, exc)
        _card_for(event, evidence_dir / thumb_rel, [f"clip failed: {exc}"], site)
        return replace(event, clip=None, thumb=thumb_rel)
    if not (evidence_dir / thumb_rel).exists():
        try:
            _thumbnail(event, probes, evidence_dir / thumb_rel, site, detector)
        except Exception as exc:
            log.warning("thumbnail for %s failed: %s", eid, exc)
            _card_for(event, evidence_dir / thumb_rel, [f"thumbnail failed: {exc}"], site)
    return replace(event, clip=clip, thumb=thumb_rel)


# --- clips -----------------------------------------------------------------------------


def clip_windows(event: Event, site: Site) -> list[tuple[str, datetime, datetime]]:
    """``[(which, from, to)]``: one window, or head and tail for long events."""
    r = site.review
    pre, post = timedelta(seconds=r.pre_roll_s), timedelta(seconds=r.post_roll_s)
    if event.duration_s <= r.max_clip_s:
        return [("head", event.start - pre, event.end + post)]
    half = timedelta(seconds=r.max_clip_s / 2)
    return [
        ("head", event.start - pre, event.start + half),
        ("tail", event.end - half, event.end + post),
    ]


def _clips(
    event: Event,
    probes: Mapping[str, FileProbe],
    evidence_dir: Path,
    site: Site,
    head_rel: str,
    tail_rel: str,
) -> str | None:
    if event.kind in NO_VIDEO_KINDS:
        return None
    head: str | None = None
    for which, t0, t1 in clip_windows(event, site):
        rel = head_rel if which == "head" else tail_rel
        anchor = event.start if which == "head" else event.end
        probe = source_for(event, probes, anchor, prefer_end=which == "tail")
        if probe is None or probe.start is None:
            continue
        target = evidence_dir / rel
        if not target.exists():
            a = max(0.0, (t0 - probe.start).total_seconds())
            b = min(probe.duration_s, (t1 - probe.start).total_seconds())
            if b - a < 0.05:
                continue
            result = cut_clip(
                probe.path,
                a,
                b,
                target,
                probe.keyframes_s,
                max_lead_s=max(site.review.pre_roll_s, 2.0),
            )
            log.debug("%s: %s %.1f-%.1f s (%d frames)", rel, result.mode, a, b, result.frames)
        if which == "head":
            head = rel
    return head


def find_probe(probes: Mapping[str, FileProbe], name: str | None) -> FileProbe | None:
    """The probe of ``source_file`` whether keyed by relative path, absolute path or name."""
    if not name:
        return None
    if name in probes:
        return probes[name]
    base = Path(name).name
    for key, probe in probes.items():
        if str(probe.path) == name or Path(key).name == base or probe.path.name == base:
            return probe
    return None


def source_for(
    event: Event, probes: Mapping[str, FileProbe], t: datetime, prefer_end: bool = False
) -> FileProbe | None:
    """The readable recording that holds wall-clock time ``t`` of the event's camera."""
    eps = timedelta(milliseconds=1)
    probe = find_probe(probes, event.source_file)
    if probe is not None and holds(probe, t, eps):
        return probe
    for p in probes.values():
        if p.camera_id == event.camera_id and holds(p, t - eps if prefer_end else t, eps):
            return p
    return None


def holds(p: FileProbe, t: datetime, eps: timedelta) -> bool:
    return (
        p.readable
        and p.start is not None
        and p.end is not None
        and p.start - eps <= t <= p.end + eps
    )


def _nearest_frame(
    event: Event, probes: Mapping[str, FileProbe]
) -> tuple[FileProbe, float, str] | None:
    """A readable moment next to a stretch with no video: the last frame before it, else the
    first after it, within a minute."""
    limit = timedelta(seconds=60)
    best: tuple[timedelta, FileProbe, float, str] | None = None
    for p in probes.values():
        if p.camera_id != event.camera_id or not p.readable or p.start is None or p.end is None:
            continue
        if p.end <= event.start + timedelta(milliseconds=1) and event.start - p.end <= limit:
            cand = (event.start - p.end, p, max(0.0, p.duration_s - 0.2), "last frame before")
        elif p.start >= event.end - timedelta(milliseconds=1) and p.start - event.end <= limit:
            cand = (p.start - event.end, p, 0.0, "first frame after")
        else:
            continue
        if best is None or cand[0] < best[0]:
            best = cand
    return best[1:] if best else None


# --- thumbnails ------------------------------------------------------------------------


def decisive_time(event: Event) -> datetime:
    """The moment a thumbnail shows: a little into the event, where the finding holds."""
    return event.start + timedelta(seconds=min(event.duration_s / 2, 3.0))


def _thumbnail(
    event: Event, probes: Mapping[str, FileProbe], target: Path, site: Site, detector: object | None
) -> None:
    lines = [
        f"{event.kind}  {event.camera_id or '-'}  {event.session_id or 'file-level'}",
        f"{media.stamp(event.start, site.tz)}  +{event.duration_s:.0f} s",
    ]
    if event.kind in NO_VIDEO_KINDS:
        near = _nearest_frame(event, probes)
        if near is not None:
            probe, offset, what = near
            grabbed = media.grab_frames(probe.path, [offset], THUMB_WIDTH)[0]
            if grabbed is not None:
                img = _at_least(grabbed[1], THUMB_MIN_WIDTH)
                _dim(img)
                _banner(img, "NO VIDEO", f"{what} ({event.kind})")
                media.write_jpeg(media.caption(img, lines), target)
                return
        _card_for(event, target, [], site)
        return
    t = decisive_time(event)
    probe = source_for(event, probes, t)
    if probe is None or probe.start is None:
        _card_for(event, target, ["no readable recording holds this moment"], site)
        return
    grabbed = media.grab_frames(probe.path, [(t - probe.start).total_seconds()], THUMB_WIDTH)[0]
    if grabbed is None:
        _card_for(event, target, [f"no frame decodes at {media.stamp(t, site.tz)}"], site)
        return
    img = _at_least(grabbed[1], THUMB_MIN_WIDTH)
    if detector == "auto":
        detector = _default_detector() if event.kind in PEOPLE_KINDS else None
    _overlay(img, event.camera_id, site, detector)
    media.write_jpeg(media.caption(img, lines), target)


_DETECTOR: list[object | None] = []


def _default_detector() -> object | None:
    """The offline SSDLite detector, built once per process; None where it cannot be built."""
    if not _DETECTOR:
        try:
            from pipeline.detectors import make_detector

            _DETECTOR.append(make_detector("ssdlite"))
        except Exception as exc:
            log.warning("no person detector for thumbnails (%s); drawing zones only", exc)
            _DETECTOR.append(None)
    return _DETECTOR[0]


def _overlay(img: np.ndarray, camera_id: str | None, site: Site, detector: object | None) -> None:
    if camera_id is not None:
        camera = site.camera(camera_id)
        media.draw_polygon(img, camera.proctor_zone, media.PROCTOR_COLOUR, "proctor zone")
        if camera.station_zone is not None:
            media.draw_polygon(img, camera.station_zone, media.STATION_COLOUR, "station zone")
        if camera.candidate_zone is not None:
            media.draw_polygon(img, camera.candidate_zone, media.CANDIDATE_COLOUR, "candidate zone")
    if detector is not None:
        try:
            found = detector.detect(img[None])[0]  # type: ignore[attr-defined]
            persons = found.persons() if hasattr(found, "persons") else found
            media.draw_boxes(img, persons.boxes, persons.scores)
        except Exception as exc:  # a detector failure must not cost the thumbnail
            log.warning("detector failed on thumbnail: %s", exc)


def _at_least(img: np.ndarray, width: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    if w >= width:
        return img
    return cv2.resize(img, (width, round(h * width / w)), interpolation=cv2.INTER_LINEAR)


def _dim(img: np.ndarray) -> None:
    img[:] = (img.astype(np.float32) * 0.45).astype(np.uint8)


def _banner(img: np.ndarray, title: str, sub: str) -> None:
    import cv2

    h = img.shape[0]
    cv2.putText(
        img, title, (16, h // 2), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (80, 80, 255), 3, cv2.LINE_AA
    )
    cv2.putText(
        img,
        media._ascii(sub),
        (16, h // 2 + 28),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.5,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )


def _card_for(event: Event, target: Path, extra: list[str], site: Site | None = None) -> None:
    tz = site.tz if site is not None else None
    headline = {
        "recording_missing": "NO RECORDING",
        "recording_gap": "GAP IN RECORDING",
        "file_unreadable": "FILE UNREADABLE",
    }.get(event.kind, "NO PICTURE")
    lines = [
        headline,
        f"{event.kind}  camera {event.camera_id or '-'}  "
        f"session {event.session_id or 'file-level'}",
        f"from {media.stamp(event.start, tz)}",
        f"to   {media.stamp(event.end, tz)}  ({event.duration_s:.0f} s)",
    ]
    if event.source_file:
        lines.append(f"file {Path(event.source_file).name[:60]}")
    lines += [x[:70] for x in extra]
    media.write_jpeg(media.card((THUMB_WIDTH, 360), lines), target)
