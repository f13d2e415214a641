"""Contact sheets: one JPEG per session, frames spread evenly over its scheduled window, so a
glance tells how much of the session was recorded and what the camera saw."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta, tzinfo
from pathlib import Path

import numpy as np

from pipeline.inputs.config import Site
from pipeline.records import ExamSession, FileProbe
from pipeline.review import media
from pipeline.review.clips import holds

log = logging.getLogger(__name__)

SHEET_TILE_WIDTH = 320
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def sheet_path(session_id: str) -> str:
    return f"thumbs/session_{_SAFE.sub('_', session_id)}.jpg"


def write_contact_sheets(
    sessions: Sequence[ExamSession],
    probes: Mapping[str, FileProbe],
    evidence_dir: Path,
    site: Site | None = None,
    tiles: int = 12,
    columns: int = 4,
) -> dict[str, str]:
    """One JPEG per session: ``tiles`` frames evenly spread over the scheduled window.

    Moments with no readable video show a grey "no video" tile, so a sheet alone tells how
    much of a session was recorded. Returns ``{session_id: relative path}``; existing sheets
    are reused.
    """
    out: dict[str, str] = {}
    for session in sessions:
        rel = sheet_path(session.session_id)
        target = Path(evidence_dir) / rel
        if not target.exists():
            try:
                _contact_sheet(session, probes, target, tiles, columns, site.tz if site else None)
            except Exception as exc:
                log.warning("contact sheet for %s failed: %s", session.session_id, exc)
                continue
        out[session.session_id] = rel
    return out


def _contact_sheet(
    session: ExamSession,
    probes: Mapping[str, FileProbe],
    target: Path,
    tiles: int,
    columns: int,
    tz: tzinfo | None = None,
) -> None:
    import cv2

    span = session.duration_s
    times = [
        session.scheduled_start + timedelta(seconds=span * (i + 0.5) / tiles) for i in range(tiles)
    ]
    by_file: dict[Path, list[tuple[int, float]]] = {}
    for i, t in enumerate(times):
        for p in probes.values():
            if p.camera_id == session.camera_id and holds(p, t, timedelta(0)):
                assert p.start is not None
                by_file.setdefault(p.path, []).append((i, (t - p.start).total_seconds()))
                break
    frames: list[np.ndarray | None] = [None] * tiles
    for path, wanted in by_file.items():
        grabbed = media.grab_frames(path, [o for _, o in wanted], SHEET_TILE_WIDTH)
        for (i, _), g in zip(wanted, grabbed, strict=True):
            frames[i] = g[1] if g is not None else None
    size = next(
        ((f.shape[1], f.shape[0]) for f in frames if f is not None), (SHEET_TILE_WIDTH, 180)
    )
    cells = []
    for t, f in zip(times, frames, strict=True):
        if f is None:
            f = media.card(size, ["no video"], colour=(90, 90, 90))
        elif (f.shape[1], f.shape[0]) != size:
            f = cv2.resize(f, size, interpolation=cv2.INTER_AREA)
        cells.append(media.caption(f, [media.stamp(t, tz)[11:]]))
    rows = []
    blank = np.zeros_like(cells[0])
    for r in range(0, len(cells), columns):
        row = cells[r : r + columns]
        row += [blank] * (columns - len(row))
        rows.append(np.hstack(row))
    sheet = np.vstack(rows)
    title = np.full((30, sheet.shape[1], 3), 24, np.uint8)
    cv2.putText(
        title,
        media._ascii(
            f"{session.session_id}  {session.camera_id}  {session.exam_type}  "
            f"{media.stamp(session.scheduled_start, tz)}"
        ),
        (8, 21),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.6,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )
    media.write_jpeg(np.vstack([title, sheet]), target, quality=80)
