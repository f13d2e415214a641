"""Frame-by-frame confirmation of a crosscheck stretch, where both recordings are reachable.

Fingerprints only nominate. Each evidence folder's manifest names its recordings folder and
site.toml, files.parquet its files: both files are probed again (packets only, the hash taken
from files.parquet) and the stretch goes through the in-batch loop check's own verification
(:func:`pipeline.refine.refine_events`: aligned in time, geometry and brightness; change images
must match at several moments; the ends placed frame by frame). A stretch it rejects is not
a copy and is dropped. Then ``POINTS`` moments spread over the confirmed stretch are compared
once more (the aligned frames' grey-level difference, after the found warp and a quantile
brightness match: :func:`pipeline.refine_loop.difference`), which gives ``verified_frames``.

A missing, changed or unreadable recording never stops the run: the stretch is reported with
``verified`` false and the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline import evidence as store
from pipeline.errors import RecordingError
from pipeline.inputs.config import Site, load_site
from pipeline.media.probe import probe_file
from pipeline.media.sampling import decode_window
from pipeline.records import Event, FileProbe
from pipeline.refine import LOOP_SAME_MIN, refine_events
from pipeline.refine_loop import Match, difference, estimate_warp, small
from pipeline.signals.picture import gray_of, without_overlay

POINTS = 7  # moments compared across a confirmed stretch
AGREE_SHARE = 2 / 3  # ... of which at least this share must show the same picture
THUMB_WIDTH = 240


@dataclass(frozen=True)
class Source:
    """Where one evidence folder's recordings are, and its site settings."""

    folder: Path
    root: Path | None
    site: Site
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    problem: str | None = None


def load_source(folder: Path) -> Source:
    """The folder's recordings root and site (from manifest.json), and files.parquet."""
    folder = Path(folder)
    manifest = folder / "manifest.json"
    try:
        inputs = json.loads(manifest.read_text(encoding="utf-8")).get("inputs", {})
    except (OSError, ValueError) as exc:
        return Source(folder, None, Site(), problem=f"{manifest}: cannot read ({exc})")
    root = Path(inputs["recordings"]) if inputs.get("recordings") else None
    if root is not None and root.is_file():
        root = root.parent
    site_path = inputs.get("site")
    site = Site(timezone=inputs.get("timezone") or "UTC")
    if site_path and Path(site_path).is_file():
        try:
            site = load_site(Path(site_path))
        except Exception as exc:  # a site that no longer loads: defaults, reason kept
            return Source(folder, root, site, problem=f"{site_path}: {exc}")
    try:
        rows = store.read_table(folder / "files.parquet").to_pylist()
    except (OSError, ValueError) as exc:
        return Source(folder, root, site, problem=f"{folder / 'files.parquet'}: {exc}")
    return Source(folder, root, site, {r["path"]: r for r in rows})


def reachable(src: Source, name: str) -> tuple[FileProbe | None, str | None]:
    """The recording ``name`` of ``src`` probed again, or why it cannot be checked."""
    if src.problem:
        return None, src.problem
    row = src.files.get(name)
    path = Path(name) if Path(name).is_absolute() or src.root is None else src.root / name
    if row is None:
        return None, f"{src.folder / 'files.parquet'}: no row for {name}"
    if not path.is_file():
        return None, f"{path}: recording not found"
    size = path.stat().st_size
    if size != row["size_bytes"]:
        return None, f"{path}: changed since the scan ({size} bytes, scanned {row['size_bytes']})"
    probe = probe_file(path, row["camera_id"], row["start"], sha256=row["sha256"] or "unknown")
    if probe.error or probe.start is None:
        return None, f"{path}: {probe.error or 'no start time'}"
    return probe, None


@dataclass(frozen=True)
class Side:
    """One side of a stretch: its folder's source, file and camera."""

    src: Source
    file: str
    camera: str


@dataclass
class Outcome:
    """What the frames said, and the stretch as they place it (file offsets)."""

    verified: bool
    details: dict[str, Any]
    copy_start_s: float
    copy_end_s: float
    orig_start_s: float
    thumbs: tuple[bytes, bytes] | None = None


def _pictures(probe: FileProbe, lo: float, hi: float, site: Site, camera: str):
    """Frames of ``[lo, hi]``: times, colour frames and SMALL luma with the clock painted out."""
    t, frames = decode_window(probe.path, max(0.0, lo), hi, width=site.analysis.width)
    gray = without_overlay(gray_of(frames), site.camera(camera).clock_region)
    return t, frames, np.asarray([small(g) for g in gray])


def _jpeg(frame: np.ndarray) -> bytes:
    h, w = frame.shape[:2]
    thumb = cv2.resize(frame, (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w))))
    ok, buf = cv2.imencode(".jpg", thumb, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return buf.tobytes() if ok else b""


def confirm(
    orig: Side,
    copy: Side,
    orig_start_s: float,
    copy_start_s: float,
    copy_end_s: float,
    step: float,
    min_loop_s: float,
) -> Outcome | None:
    """Confirm one stretch frame by frame; None when the frames show it is not a copy."""
    unchanged = Outcome(False, {}, copy_start_s, copy_end_s, orig_start_s)
    probes: dict[str, FileProbe] = {}
    for key, side in (("a", orig), ("b", copy)):
        probe, why = reachable(side.src, side.file)
        if probe is None:
            unchanged.details = {"verified": False, "reason": why}
            return unchanged
        probes[key] = probe
    # one site for the pair: each side's camera under its own key (ids repeat across centres)
    site = Site(
        timezone=copy.src.site.timezone,
        analysis=copy.src.site.analysis,
        cameras={
            "a": replace(orig.src.site.camera(orig.camera), camera_id="a"),
            "b": replace(copy.src.site.camera(copy.camera), camera_id="b"),
        },
    )
    start = probes["b"].at(copy_start_s)
    event = Event(
        kind="looped_footage",
        camera_id="b",
        session_id=None,
        start=start,
        end=probes["b"].at(copy_end_s),
        confidence=0.7,
        details={
            "matched_file": "a",
            "matched_t_file_s": orig_start_s,
            "matched_camera": "a",
            "start_file": "b",
            "end_file": "b",
            "start_t_file_s": copy_start_s,
            "end_t_file_s": copy_end_s,
            "sample_step_s": step,
            "min_s": min_loop_s,
        },
        source_file="b",
    )
    refined = refine_events([event], probes, site)
    if not refined:
        return None  # the frames do not show the same footage
    d = refined[0].details
    if not d.get("refined"):
        unchanged.details = {"verified": False, "reason": "recordings could not be decoded"}
        return unchanged
    c0, c1 = float(d["start_t_file_s"]), float(d["end_t_file_s"])
    lag = float(d["lag_s"])
    try:
        points, thumbs = _points(probes["b"], probes["a"], site, c0, c1, lag, d)
    except (RecordingError, OSError, ValueError) as exc:
        unchanged.details = {"verified": False, "reason": f"frames not decoded: {exc}"}
        return unchanged
    agree = sum(points)
    return Outcome(
        agree >= AGREE_SHARE * len(points),
        {
            "verified": agree >= AGREE_SHARE * len(points),
            "verified_frames": agree,
            "compared_frames": len(points),
            "frame_difference": d.get("frame_difference"),
            "transform": d.get("transform"),
        },
        c0,
        c1,
        c0 - lag,
        thumbs,
    )


def _points(copy, orig, site, c0, c1, lag, d) -> tuple[list[bool], tuple[bytes, bytes] | None]:
    """Whether the aligned frames agree at ``POINTS`` moments of the stretch; thumbnails of
    both sides at its middle."""
    same_max = max(LOOP_SAME_MIN, 2.0 * float(d.get("frame_difference") or 0.0))
    times = np.linspace(c0 + 0.5, max(c0 + 0.5, c1 - 0.5), POINTS)
    match: Match | None = None
    thumbs = None
    out = []
    for i in np.argsort(np.abs(times - (c0 + c1) / 2)):  # the middle first: it fixes the warp
        t = float(times[i])
        tc, fc, gc = _pictures(copy, t - 0.05, t + 0.05, site, "b")
        to, fo, go = _pictures(orig, t - lag - 0.1, t - lag + 0.1, site, "a")
        if not len(tc) or not len(to):
            out.append(False)
            continue
        k = int(np.argmin(np.abs(to - (tc[0] - lag))))
        if match is None:
            match = Match(lag, estimate_warp(gc[0], go[k]), 1.0, 0.0, 0.0)
            thumbs = (_jpeg(fo[k]), _jpeg(fc[0]))
        out.append(min(difference(gc[0], g, match) for g in go) <= same_max)
    return out, thumbs
