"""Each camera's usual view, learned over the whole batch, and its permanent re-aims.

A camera turned away before a session and back after it shows nothing wrong inside that
session; only its other sessions say what it should show. So the view is learned per camera
from all of its usable samples (not black, with a signature): they are cut into blocks of
``BLOCK_S`` inside each session, each block's per-bin median (people averaged out) is
clustered by view, and the view with most samples is the camera's usual view. A camera with a
single session thereby falls back to that session's majority view. A view pinned by
``cameras.<id>.reference_image`` or carried from an earlier evidence folder
(``scan --reference``) replaces the learned one.

A permanent re-aim (moved once, left there) must not flag every later session: when the
batch ends in a run of blocks of one other view that spans at least
``rules.view_persistent_sessions`` sessions, the view changes there (placed between samples
by the split that best separates old and new), later samples are judged against the new view,
and one ``view_changed`` marks the change with ``details.persistent``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import InputError
from pipeline.findings import SessionContext
from pipeline.findings.picture import (
    SessionSamples,
    black_samples,
    boundary_details,
    make_event,
    utc,
)
from pipeline.inputs.config import Rules
from pipeline.records import Event
from pipeline.schemas import VIEWS
from pipeline.signals import view as sig

BLOCK_S = 60.0  # samples per block: long enough that a person's passing averages out


@dataclass(frozen=True, eq=False)
class View:
    """One reference view of a camera and where it came from."""

    hist: np.ndarray  # (cells, BINS) reference histogram
    source: str  # batch | session | reference_image | evidence
    origin: str  # sessions it was learned from, or the image / evidence path
    since: float | None = None  # epoch seconds from which it holds (None: from the start)
    example: tuple[str, float] | None = None  # (file, offset) of a sample that shows it
    thumb: str | None = None  # picture of it, relative to EVIDENCE (set by the scan)
    picture: str | None = None  # a picture file that shows it (reference image, old thumb)

    def code(self) -> str:
        """The view as base64 signature bytes (for details, refinement and views.parquet)."""
        return base64.b64encode(sig.encode(self.hist).tobytes()).decode()


@dataclass(frozen=True, eq=False)
class CameraViews:
    """A camera's reference views in time order; each holds from its ``since``."""

    camera_id: str
    views: tuple[View, ...] = field(default_factory=tuple)

    def index_at(self, t: np.ndarray) -> np.ndarray:
        since = np.array([-np.inf if v.since is None else v.since for v in self.views])
        return np.maximum(np.searchsorted(since, np.asarray(t, dtype=np.float64), "right") - 1, 0)


def decode_code(code: str) -> np.ndarray:
    return sig.decode(np.frombuffer(base64.b64decode(code), dtype=np.uint8)[None])[0]


def signatures(timeline: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """``view_signature`` as ``(N, cells, BINS)`` histograms and the rows that have one."""
    n = timeline.num_rows
    if "view_signature" not in timeline.column_names or not n:
        return np.zeros((n, sig.GRID[0] * sig.GRID[1], sig.BINS), np.float32), np.zeros(n, bool)
    col = timeline["view_signature"].combine_chunks()
    has = ~np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    data = col.buffers()[1]
    codes = np.zeros((n, sig.SIGNATURE_BYTES), np.uint8)
    if data is not None:
        raw = np.frombuffer(data, dtype=np.uint8)
        codes = raw[col.offset * sig.SIGNATURE_BYTES :][: n * sig.SIGNATURE_BYTES].reshape(n, -1)
    return sig.decode(codes), has


def usable_samples(timeline: pa.Table, rules: Rules) -> tuple[np.ndarray, np.ndarray]:
    """Histograms and the mask of samples that show a picture (signature, not black)."""
    hists, has = signatures(timeline)
    return hists, has & ~black_samples(timeline, rules)


@dataclass
class _Camera:
    """A camera's usable samples over the batch, in time order."""

    t: np.ndarray
    hists: np.ndarray
    session: np.ndarray  # index into the camera's contexts
    files: np.ndarray
    t_file: np.ndarray


def _gather(parts: list[tuple[SessionContext, pa.Table]]) -> _Camera:
    ts, hs, ss, fs, tfs = [], [], [], [], []
    for k, (ctx, tl) in enumerate(parts):
        hists, usable = usable_samples(tl, ctx.site.rules)
        if not usable.any():
            continue
        s = SessionSamples.of(tl, 2.0)
        ts.append(s.t[usable])
        hs.append(hists[usable])
        ss.append(np.full(int(usable.sum()), k))
        fs.append(s.files[usable])
        tfs.append(s.t_file[usable])
    if not ts:
        empty = np.zeros(0)
        return _Camera(empty, np.zeros((0, 1, sig.BINS), np.float32), empty, empty, empty)
    t = np.concatenate(ts)
    order = np.argsort(t, kind="stable")
    return _Camera(
        t[order],
        np.concatenate(hs)[order],
        np.concatenate(ss)[order],
        np.concatenate(fs)[order],
        np.concatenate(tfs)[order],
    )


def _blocks(cam: _Camera) -> list[np.ndarray]:
    """Sample indices of each block: within a session, at most ``BLOCK_S`` long."""
    out: list[np.ndarray] = []
    start = 0
    for i in range(1, len(cam.t) + 1):
        if (
            i == len(cam.t)
            or cam.session[i] != cam.session[start]
            or cam.t[i] - cam.t[start] >= BLOCK_S
        ):
            out.append(np.arange(start, i))
            start = i
    return out


def learn(
    parts: list[tuple[SessionContext, pa.Table]], rules: Rules, pinned: View | None = None
) -> tuple[CameraViews, list[int]]:
    """The camera's views over the batch and, for each permanent re-aim, the index into
    ``parts`` (the camera's sessions: context, timeline) of the session where it happened.
    The first view is the pinned one or the learned usual view."""
    cam = _gather(parts)
    camera_id = parts[0][0].session.camera_id if parts else ""
    n_sessions = len({k for k in cam.session.tolist()})
    if not len(cam.t):
        return CameraViews(camera_id, (pinned,) if pinned else ()), []
    blocks = _blocks(cam)
    medians = [sig.median_view(cam.hists[b]) for b in blocks]
    centres: list[np.ndarray] = [pinned.hist] if pinned else []
    labels = []
    for m in medians:  # leader clustering: a block joins the first view it matches
        d = [float(sig.distance(m[None], c)[0]) for c in centres]
        if d and min(d) < rules.view_changed_distance:
            labels.append(int(np.argmin(d)))
        else:
            centres.append(m)
            labels.append(len(centres) - 1)
    sizes = np.array([len(b) for b in blocks])
    block_session = [int(cam.session[b[0]]) for b in blocks]

    def dominant(lo: int, hi: int) -> int:
        if pinned is not None and lo == 0:
            return 0
        counts = np.bincount(labels[lo:hi], weights=sizes[lo:hi], minlength=len(centres))
        return int(np.argmax(counts))

    def epochs(lo: int, hi: int) -> list[tuple[int, int]]:
        """(first block, view label) of each epoch among blocks lo..hi-1."""
        last = labels[hi - 1]
        k = hi - 1
        while k > lo and labels[k - 1] == last:
            k -= 1
        if k > lo:
            before = dominant(lo, k)
            if last != before and len(set(block_session[k:hi])) >= rules.view_persistent_sessions:
                return [*epochs(lo, k), (k, last)]
        return [(lo, dominant(lo, hi))]

    plan = epochs(0, len(blocks))
    views: list[View] = []
    changes: list[int] = []
    for e, (b0, label) in enumerate(plan):
        b1 = plan[e + 1][0] if e + 1 < len(plan) else len(blocks)
        members = [blocks[b] for b in range(b0, b1) if labels[b] == label]
        idx = np.concatenate(members) if members else np.zeros(0, int)
        if e == 0 and pinned is not None:
            hist, source, origin = pinned.hist, pinned.source, pinned.origin
        else:
            hist = sig.median_view(cam.hists[idx])
            source = "batch" if n_sessions > 1 else "session"
            ids = sorted({parts[int(cam.session[i])][0].session.session_id for i in idx})
            origin = ",".join(ids[:20]) + (f" (+{len(ids) - 20})" if len(ids) > 20 else "")
        since = None
        if e > 0:
            at = _split(cam, np.concatenate([blocks[b0 - 1], blocks[b0]]), views[-1].hist, hist)
            changes.append(int(cam.session[at]))
            prev = at - 1
            same = cam.session[prev] == cam.session[at]
            since = (cam.t[prev] + cam.t[at]) / 2 if same else cam.t[at] - 1e-3
        near = idx if len(idx) else np.arange(len(cam.t))
        best = int(near[np.argmin(sig.distance(cam.hists[near], hist))])
        views.append(
            View(hist, source, origin, since, (str(cam.files[best]), float(cam.t_file[best])))
        )
    return CameraViews(camera_id, tuple(views)), changes


def _split(cam: _Camera, idx: np.ndarray, old: np.ndarray, new: np.ndarray) -> int:
    """The first sample of the new view: the split of ``idx`` that misplaces fewest samples."""
    closer_new = sig.distance(cam.hists[idx], new) < sig.distance(cam.hists[idx], old)
    # errors if the new view starts at position j: new-like before j, old-like from j
    before = np.concatenate([[0], np.cumsum(closer_new)])
    after = np.concatenate([np.cumsum((~closer_new)[::-1])[::-1], [0]])
    j = int(np.argmin(before + after))
    return int(idx[min(j, len(idx) - 1)])


def find_view_epochs(
    parts: list[tuple[SessionContext, pa.Table]], rules: Rules, pinned: View | None = None
) -> tuple[CameraViews, list[Event]]:
    """One camera's views, and one persistent ``view_changed`` at each permanent re-aim."""
    views, changes = learn(parts, rules, pinned)
    events: list[Event] = []
    for e, k in enumerate(changes, start=1):
        new, old = views.views[e], views.views[e - 1]
        since = float(new.since or 0.0)
        ctx, tl = parts[k]
        s = SessionSamples.of(tl, ctx.site.analysis.sample_every_s)
        i0 = int(np.searchsorted(s.t, since))
        i1 = int(np.searchsorted(s.t, s.t[i0] + rules.min_view_changed_s, "right")) - 1
        later = [c.session.session_id for c, t in parts[k + 1 :] if t.num_rows]
        details = {
            "persistent": True,
            "whole_session": False,
            "reference": old.source,
            "reference_origin": old.origin,
            "reference_epoch": e - 1,
            "new_view_origin": new.origin,
            "sessions_after": later,
            "reference_signature": old.code(),
            "min_s": 0.0,
            "samples": len(s) - i0,
            "test": "view",
        }
        bounds = boundary_details(s, i0, max(i0, i1))
        events.append(make_event("view_changed", ctx, bounds, details, confidence=0.8))
    return views, events


def batch_views(
    contexts: list[SessionContext],
    timelines: list[pa.Table],
    rules: Rules,
    pinned: dict[str, View] | None = None,
) -> tuple[list[SessionContext], list[Event], dict[str, CameraViews]]:
    """The batch-level step: every camera's views, the contexts carrying them, and one
    persistent ``view_changed`` per permanent re-aim."""
    by_camera: dict[str, list[int]] = {}
    for i, ctx in enumerate(contexts):
        by_camera.setdefault(ctx.session.camera_id, []).append(i)
    out = list(contexts)
    events: list[Event] = []
    learned: dict[str, CameraViews] = {}
    for camera_id, idx in sorted(by_camera.items()):
        idx = sorted(idx, key=lambda i: contexts[i].session.scheduled_start)
        parts = [(contexts[i], timelines[i]) for i in idx]
        views, found = find_view_epochs(parts, rules, (pinned or {}).get(camera_id))
        learned[camera_id] = views
        events.extend(found)
        for i in idx:
            out[i] = replace(contexts[i], views=views)
    return out, events, learned


def image_view(path: Path, width: int, clock_region=None) -> View:
    """A reference picture (``cameras.<id>.reference_image``) as a view, scaled like samples."""
    import cv2

    from pipeline.signals.picture import without_overlay

    gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise InputError(path, None, "not a readable image")
    h = max(2, round(gray.shape[0] * width / gray.shape[1] / 2) * 2)
    gray = without_overlay(cv2.resize(gray, (width, h), interpolation=cv2.INTER_AREA), clock_region)
    hist = sig.decode(sig.signature(gray)[None])[0]
    return View(hist, "reference_image", str(path), picture=str(path))


def views_table(views: dict[str, CameraViews]) -> pa.Table:
    """``views.parquet``: each camera's reference views, so a later scan can carry them."""
    rows = [
        {
            "camera_id": cam,
            "epoch": k,
            "since": None if v.since is None else utc(v.since),
            "source": v.source,
            "origin": v.origin,
            "signature": sig.encode(v.hist).tobytes(),
            "thumb": v.thumb,
        }
        for cam, cv in sorted(views.items())
        for k, v in enumerate(cv.views)
    ]
    return pa.Table.from_pylist(rows, schema=VIEWS)


def carried_views(evidence_dir: Path) -> dict[str, View]:
    """``scan --reference EVIDENCE``: each camera's latest view from an earlier evidence folder
    (its ``views.parquet``), pinned as the camera's usual view."""
    path = Path(evidence_dir) / "views.parquet"
    if not path.is_file():
        raise InputError(
            path,
            None,
            "not found: --reference needs an evidence folder written "
            "by a scan that learned cameras' views",
        )
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(path, None, f"unreadable: {exc}") from None
    missing = {"camera_id", "epoch", "signature"} - set(table.column_names)
    if missing:
        raise InputError(path, None, f"missing columns {sorted(missing)}")
    out: dict[str, View] = {}
    for row in sorted(table.to_pylist(), key=lambda r: (r["camera_id"], r["epoch"])):
        code = row["signature"]
        if code is None or len(code) != sig.SIGNATURE_BYTES:
            raise InputError(path, f"camera {row['camera_id']}", "bad signature")
        hist = sig.decode(np.frombuffer(code, dtype=np.uint8)[None])[0]
        thumb = row.get("thumb")
        folder = Path(evidence_dir).resolve()
        picture = str(folder / thumb) if thumb else None
        out[row["camera_id"]] = View(hist, "evidence", str(folder), picture=picture)
    return out
