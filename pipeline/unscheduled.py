"""Recordings outside the plan: analysed coarsely for people, looked at again at the edges.

An exam held when the plan lists none is only seen if the hours between sessions are
analysed too; those are most of a camera's hours, so only people are looked for, every
``analysis.unscheduled_every_s`` (keyframes only on ordinary GOPs). Around each end of a
stretch with people the GOPs are sampled again at the usual ``sample_every_s``, so its ends
are placed as exactly as any session finding's. Without a plan (``scan --no-schedule``) the
same pass finds the sessions themselves (:func:`derive_sessions`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.findings import SessionContext, activity
from pipeline.inputs.config import Site
from pipeline.intervals import union
from pipeline.media.sampling import Chunk, plan_chunks
from pipeline.records import ExamSession, FileProbe

Job = tuple[FileProbe, Chunk]
PEOPLE: tuple[str, ...] = ("people",)


def coarse_site(site: Site) -> Site:
    """The site as the coarse pass samples it."""
    every = max(site.analysis.unscheduled_every_s, site.analysis.sample_every_s)
    return replace(site, analysis=replace(site.analysis, sample_every_s=every))


def _windows(contexts: Iterable[SessionContext]) -> dict[str, list[tuple[datetime, datetime]]]:
    out: dict[str, list[tuple[datetime, datetime]]] = {}
    for ctx in contexts:
        s = ctx.session
        out.setdefault(s.camera_id, []).append((s.scheduled_start, s.scheduled_end))
    return out


MIN_CHUNK_S = 60.0  # shorter chunks cost more in seeks and clock reads than they balance
# What one more chunk costs, in seconds of footage: an open and a seek, the sample before it,
# its first and last detector runs and its clock read. Measured on the 10-minute 1080p H.264
# benchmark file: ~0.1 CPU s more per extra chunk against ~7 ms per second of footage
CHUNK_OVERHEAD_S = 15.0
CHUNKS_PER_WORKER = (1, 2, 3, 4)  # the splits :func:`balanced` weighs


def makespan(pieces: Iterable[float], workers: int, overhead_s: float = CHUNK_OVERHEAD_S) -> float:
    """The busiest worker's load (seconds of footage plus ``overhead_s`` a chunk) when the
    chunks go longest first to the least loaded worker, as the scan submits them."""
    loads = [0.0] * max(1, workers)
    for piece in sorted(pieces, reverse=True):
        heapq.heapreplace(loads, loads[0] + piece + overhead_s)
    return max(loads)


def balanced(site: Site, probes: Sequence[FileProbe], workers: int) -> Site:
    """The site with ``analysis.chunk_s`` cut so that the batch's chunks keep every worker
    busy at the least cost: of one to four chunks per worker (never below ``MIN_CHUNK_S``),
    the split whose estimated makespan is shortest, the fewest chunks on a tie. A long file
    alone becomes one chunk per worker (every extra chunk repeats its fixed costs: measured,
    one chunk per worker scans the 10-minute benchmark file 4-10 % faster than three); files
    of unequal lengths are cut finer where that evens out the workers' loads."""
    usable = [p for p in probes if p.duration_s > 0]
    total = sum(p.duration_s for p in usable)
    if workers <= 1 or total <= 0:
        return site
    sizes = list(
        dict.fromkeys(
            min(site.analysis.chunk_s, max(MIN_CHUNK_S, total / (k * workers)))
            for k in CHUNKS_PER_WORKER
        )
    )

    def span(size: float) -> float:
        planning = replace(site.analysis, chunk_s=size)
        return makespan(
            [c.end_s - c.start_s for p in usable for c in plan_chunks(p, planning)], workers
        )

    # a large batch: every split is ``chunk_s``, nothing to weigh; else the shortest makespan,
    # the first (fewest chunks) of equal ones
    size = sizes[0] if len(sizes) == 1 else min(sizes, key=span)
    return replace(site, analysis=replace(site.analysis, chunk_s=size))


def split_jobs(
    probes: Sequence[FileProbe], contexts: Sequence[SessionContext], site: Site, workers: int = 1
) -> tuple[list[Job], list[Job]]:
    """Every readable file's chunks: those overlapping a session of its camera (analysed in
    full) and the others (the coarse people pass)."""
    windows = _windows(contexts)
    planning = balanced(site, probes, workers).analysis
    inside: list[Job] = []
    rest: list[Job] = []
    for p in sorted(probes, key=lambda p: str(p.path)):
        if p.duration_s <= 0 or p.start is None or p.camera_id is None:
            continue
        for chunk in plan_chunks(p, planning):
            c0 = p.start + timedelta(seconds=chunk.start_s)
            c1 = p.start + timedelta(seconds=chunk.end_s)
            hit = any(c0 < b and a < c1 for a, b in windows.get(p.camera_id, ()))
            (inside if hit else rest).append((p, chunk))
    return inside, rest


def _epoch_us(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A timestamp column as int64 microseconds since the epoch (vectorised: ``to_pylist``
    builds one timezone-aware datetime per row)."""
    return pc.cast(pc.cast(column, pa.timestamp("us", tz="UTC")), pa.int64()).to_numpy(
        zero_copy_only=False
    )


def _us(t: datetime) -> int:
    delta = t.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def outside_rows(timeline: pa.Table, contexts: Sequence[SessionContext]) -> pa.Table:
    """The rows of ``timeline`` outside every scheduled session of their camera (``[start,
    end)``, as every session window), found per camera by a binary search over its windows."""
    if timeline.num_rows == 0:
        return timeline
    t = _epoch_us(timeline["t"])
    cams = np.asarray(timeline["camera_id"].to_pylist(), dtype=object)
    inside = np.zeros(timeline.num_rows, bool)
    for cam, spans in _windows(contexts).items():
        rows = np.flatnonzero(cams == cam)
        if not len(rows):
            continue
        merged = np.asarray(union((_us(a), _us(b)) for a, b in spans), np.int64)
        starts, ends = merged[:, 0], merged[:, 1]
        at = np.searchsorted(starts, t[rows], side="right") - 1
        inside[rows] = (at >= 0) & (t[rows] < ends[np.maximum(at, 0)])
    return timeline.filter(pa.array(~inside))


def edge_jobs(
    coarse: pa.Table, probes: Sequence[FileProbe], site: Site, *, min_people: int
) -> list[Job]:
    """Chunks to sample again at the usual step: one coarse step either side of each end of
    every stretch with at least ``min_people`` people (any length: the rule is applied after
    the ends are placed)."""
    by_camera: dict[str, list[FileProbe]] = {}
    for p in probes:
        if p.camera_id and p.start is not None and p.end is not None:
            by_camera.setdefault(p.camera_id, []).append(p)
    step = coarse_site(site).analysis.sample_every_s
    bridge = max(2.5 * step, 3.0 * site.analysis.sample_every_s)
    jobs: list[Job] = []
    for camera_id in sorted(set(coarse["camera_id"].to_pylist()) - {None}):
        rows = coarse.filter(pc.equal(coarse["camera_id"], camera_id))
        for st in activity.occupied(
            rows,
            site.camera(camera_id),
            min_people=min_people,
            min_s=0.0,
            bridge_s=bridge,
            rules=site.rules,
        ):
            for edge in (st.start, st.end):
                lo, hi = edge - timedelta(seconds=step), edge + timedelta(seconds=step)
                for p in by_camera.get(camera_id, ()):
                    a, b = max(lo, p.start), min(hi, p.end)
                    if a < b:
                        s0 = (a - p.start).total_seconds()
                        s1 = (b - p.start).total_seconds()
                        jobs.append((p, Chunk(-1, round(s0, 3), round(s1, 3))))
    return jobs


def merged(coarse: pa.Table, fine: Sequence[pa.Table]) -> pa.Table:
    """Coarse and edge rows of the same cameras as one timeline (one row per camera and time)."""
    table = pa.concat_tables([coarse, *fine]) if fine else coarse
    if table.num_rows == 0:
        return table
    table = table.sort_by([("camera_id", "ascending"), ("t", "ascending")])
    t = _epoch_us(table["t"])
    cams = np.asarray(table["camera_id"].to_pylist(), dtype=object)
    first = np.ones(table.num_rows, bool)
    first[1:] = (t[1:] != t[:-1]) | (cams[1:] != cams[:-1])
    return table.filter(pa.array(first))


def derive_sessions(outside: pa.Table, site: Site) -> list[ExamSession]:
    """Without a plan: one session per camera and continuous stretch of people (breaks
    shorter than ``rules.no_schedule_gap_s`` bridged, at least ``min_unscheduled_s`` long).

    Ids are the camera and the local start minute (``cam01-20220315T0800``), so a re-run on
    the same recordings derives the same sessions. A camera with a station zone films a
    practical room; head counts have no plan to compare with (``planned`` is False).
    """
    rules = site.rules
    gap = float(rules.value("no_schedule_gap_s"))
    zone = ZoneInfo(site.timezone)
    out: list[ExamSession] = []
    for camera_id in sorted(set(outside["camera_id"].to_pylist()) - {None}):
        rows = outside.filter(pc.equal(outside["camera_id"], camera_id))
        cam = site.camera(camera_id)
        for st in activity.occupied(
            rows,
            cam,
            min_people=1,
            min_s=float(rules.value("min_unscheduled_s")),
            bridge_s=max(gap, 3.0 * site.analysis.sample_every_s),
            rules=rules,
            anchor=site.analysis.person_anchor,
        ):
            local = st.start.astimezone(zone)
            out.append(
                ExamSession(
                    session_id=f"{camera_id}-{local:%Y%m%dT%H%M}",
                    centre_id="",
                    room_id="",
                    camera_id=camera_id,
                    exam_type="practical" if cam.station_zone is not None else "theory",
                    subject="",
                    scheduled_start=st.start.astimezone(UTC),
                    scheduled_end=st.end.astimezone(UTC),
                    candidates=0,
                    proctors_required=1,
                    planned=False,
                )
            )
    return _unique_ids(out)


def _unique_ids(sessions: list[ExamSession]) -> list[ExamSession]:
    seen: dict[str, int] = {}
    out = []
    for s in sessions:
        n = seen.get(s.session_id, 0)
        seen[s.session_id] = n + 1
        out.append(s if n == 0 else replace(s, session_id=f"{s.session_id}-{n + 1}"))
    return out
