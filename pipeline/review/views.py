"""Cameras' reference views as evidence: ``views.parquet`` and a picture of each view.

The scan's batch-level view step (:func:`pipeline.findings.usual_view.batch_views`) decides
what each camera should show; an inspector must see it too, so each view gets a thumbnail in
``views/`` (the sample closest to a learned view, the site's reference image, or the picture
carried from the earlier evidence folder) and each ``view_changed`` names it in
``details.reference_thumb`` for the report to show beside the session's own thumbnail.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa

from pipeline.findings import SessionContext
from pipeline.findings.usual_view import (
    CameraViews,
    View,
    batch_views,
    carried_views,
    image_view,
    views_table,
)
from pipeline.inputs.config import Site
from pipeline.records import Event, FileProbe
from pipeline.review.media import grab_frames, scaled_size

log = logging.getLogger("examaudit")
THUMB_WIDTH = 320


def pinned_views(site: Site, reference: Path | None) -> dict[str, View]:
    """Views fixed before the batch: ``reference_image`` first, then ``--reference``."""
    pinned: dict[str, View] = dict(carried_views(reference)) if reference is not None else {}
    for camera_id, cam in site.cameras.items():
        if cam.reference_image is not None:
            pinned[camera_id] = image_view(
                cam.reference_image, site.analysis.width, cam.clock_region
            )
    return pinned


def _jpeg(image: np.ndarray) -> bytes | None:
    h, w = image.shape[:2]
    size = scaled_size(w, h, THUMB_WIDTH)
    ok, buf = cv2.imencode(".jpg", cv2.resize(image, size, interpolation=cv2.INTER_AREA))
    return buf.tobytes() if ok else None


def _picture(view: View, probes: dict[str, FileProbe]) -> bytes | None:
    if view.picture is not None:  # the reference image, or the earlier evidence's picture
        image = cv2.imread(view.picture, cv2.IMREAD_COLOR)
        return _jpeg(image) if image is not None else None
    if view.example is None or view.example[0] not in probes:
        return None
    got = grab_frames(probes[view.example[0]].path, [view.example[1]], THUMB_WIDTH)[0]
    return _jpeg(got[1]) if got is not None else None


def batch_views_with_pictures(
    contexts: list[SessionContext],
    timelines: list[pa.Table],
    probes: list[FileProbe],
    site: Site,
    reference: Path | None = None,
) -> tuple[list[SessionContext], list[Event], dict[str, bytes]]:
    """Learn every camera's views; return the contexts carrying them, the persistent re-aim
    findings, and the files to add to the evidence (``views.parquet``, ``views/*.jpg``)."""
    pinned = pinned_views(site, reference)
    contexts, events, learned = batch_views(contexts, timelines, site.rules, pinned)
    by_name = {p.path.name: p for p in probes}
    files: dict[str, bytes] = {}
    final: dict[str, CameraViews] = {}
    for camera_id, cv in learned.items():
        views = []
        for k, v in enumerate(cv.views):
            rel = f"views/{re.sub(r'[^A-Za-z0-9_.-]', '_', camera_id)}-{k}.jpg"
            try:
                data = _picture(v, by_name)
            except (OSError, ValueError) as exc:
                log.warning("no picture of camera %s's view %d: %s", camera_id, k, exc)
                data = None
            if data is not None:
                files[rel] = data
                v = replace(v, thumb=rel)
            views.append(v)
        final[camera_id] = replace(cv, views=tuple(views))
    contexts = [
        replace(c, views=final.get(c.session.camera_id, c.views)) if c.views is not None else c
        for c in contexts
    ]
    thumbs = {cam: [v.thumb for v in cv.views] for cam, cv in final.items()}
    for i, e in enumerate(events):  # a persistent re-aim shows the view it left
        old = thumbs.get(e.camera_id or "", [])
        k = int(e.details.get("reference_epoch", 0))
        if k < len(old) and old[k]:
            events[i] = replace(e, details={**e.details, "reference_thumb": old[k]})
    if final:
        from pipeline.evidence import table_bytes

        files["views.parquet"] = table_bytes(views_table(final))
    return contexts, events, files
