"""Sampling and the analysers over every chunk of the batch, as Dask tasks.

Chunks that overlap a session of their camera are analysed with every check asked for; the
rest of each recording gets the coarse people pass of :mod:`pipeline.unscheduled`, and the
ends of what it finds are sampled again. A chunk that cannot be decoded loses only itself: it
becomes a gap of its file (:func:`mark_undecodable`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline import schemas
from pipeline.dispatch import collect
from pipeline.records import ExamSession, FileProbe, TimeGap
from pipeline.tasks import analyse_task


def derived_sessions(
    client, probes, site, checks, detector_spec, opts, out, progress
) -> list[ExamSession]:
    """Without a plan: the coarse people pass over every recording, then the sessions."""
    from pipeline.unscheduled import derive_sessions

    _, outside, _ = analyse(client, [], probes, site, checks, detector_spec, opts, out, progress)
    return derive_sessions(outside, site)


def analyse(
    client, contexts, probes, site, checks, detector_spec, opts, out, progress
) -> tuple[pa.Table, pa.Table, dict[str, list[tuple[Any, str]]]]:
    """Timeline rows of every chunk that overlaps a session; the people rows outside every
    session (coarse, looked at again around each stretch with people; empty unless the people
    checks run); and the chunks that could not be decoded, per file."""
    from pipeline import unscheduled as un

    failures: dict[str, list[tuple[Any, str]]] = {}
    empty = schemas.empty(schemas.TIMELINE)
    if not any(c in checks for c in ("integrity", "people")):
        return empty, empty, failures
    workers = sum(client.nthreads().values()) or 1
    inside, rest = un.split_jobs(probes, contexts, site, workers)
    jobs = [(p, c, site, checks) for p, c in inside]
    # analysis.unscheduled_every_s = 0: only the scheduled windows (no plan: the pass is needed)
    unplanned = "people" in checks and (site.analysis.unscheduled_every_s > 0 or opts.no_schedule)
    if unplanned:
        coarse = un.coarse_site(site)
        jobs += [(p, c, coarse, un.PEOPLE) for p, c in rest]
    progress.stage("analyse", total=len(jobs), unit="chunks")
    tables = _run_jobs(client, jobs, detector_spec, opts, out, progress, failures)
    timeline = _sorted(tables[: len(inside)])
    part = tables[len(inside) :]
    if not unplanned:
        return timeline, empty, failures
    coarse_rows = un.outside_rows(_sorted([*part, timeline]), contexts)
    # without a plan anyone present may be a session; with one, only exam-like activity
    people = 1 if opts.no_schedule else int(site.rules.value("min_unscheduled_people"))
    edges = un.edge_jobs(coarse_rows, probes, site, min_people=people)
    progress.stage("edges", total=len(edges), unit="chunks")
    fine = _run_jobs(
        client, [(p, c, site, un.PEOPLE) for p, c in edges], detector_spec, opts, out, progress, {}
    )
    outside = un.outside_rows(un.merged(coarse_rows, [t for t in fine if t is not None]), contexts)
    return timeline, outside, failures


def _sorted(tables: Sequence[pa.Table | None]) -> pa.Table:
    tables = [t for t in tables if t is not None and t.num_rows]
    if not tables:
        return schemas.empty(schemas.TIMELINE)
    return pa.concat_tables(tables).sort_by([("camera_id", "ascending"), ("t", "ascending")])


def _run_jobs(client, jobs, detector_spec, opts, out, progress, failures) -> list:
    """One analyse task per ``(probe, chunk, site, checks)``; a table (None where the chunk
    could not be decoded: it loses only itself, and ``failures`` says why) per job. The
    chunks with the most samples go first (Dask starts tasks in the order submitted), so the
    shorter ones fill in at the end, as :func:`pipeline.unscheduled.balanced` planned."""
    order = sorted(range(len(jobs)), key=lambda i: -_samples(jobs[i]))
    futures = [
        client.submit(
            analyse_task,
            p,
            chunk,
            job_site,
            job_checks,
            detector_spec,
            opts.device,
            str(out),
            pure=False,
            retries=2,
        )
        for p, chunk, job_site, job_checks in (jobs[i] for i in order)
    ]
    index = {fut.key: i for i, fut in zip(order, futures, strict=True)}
    tables: list = [None] * len(jobs)
    timeout = jobs[0][2].analysis.file_timeout_s if jobs else 0
    for fut, table in collect(client, futures, timeout):
        p, chunk = jobs[index[fut.key]][:2]
        if isinstance(table, Exception):
            failures.setdefault(str(p.path), []).append((chunk, f"{type(table).__name__}: {table}"))
            progress.advance()
            continue
        tables[index[fut.key]] = table
        span = (
            float(pc.max(table["t_file_s"]).as_py() or 0)
            - float(pc.min(table["t_file_s"]).as_py() or 0)
            if table.num_rows
            else 0.0
        )
        progress.advance(frames=table.num_rows, seconds=span)
    return tables


def _samples(job) -> float:
    """About how many samples a job decodes: its length over its sampling step."""
    _, chunk, job_site, _ = job
    return (chunk.end_s - chunk.start_s) / max(float(job_site.analysis.sample_every_s), 1e-3)


def mark_undecodable(probe: FileProbe, chunks: Sequence[tuple[Any, str]]) -> FileProbe:
    """The probe with each undecodable chunk as a gap and the reason in ``error``."""
    lost = sorted(chunks, key=lambda c: c[0].start_s)
    gaps = tuple(TimeGap(c.start_s, c.end_s - c.start_s) for c, _ in lost)
    total = sum(g.gap_s for g in gaps)
    where = ", ".join(f"{g.at_s:.0f}-{g.at_s + g.gap_s:.0f} s" for g in gaps)
    reason = (
        f"decoding failed for {total:.0f} s of {probe.duration_s:.0f} s ({where}): {lost[0][1]}"
    )
    if probe.error is not None and not probe.partial:
        return probe
    return replace(probe, gaps=probe.gaps + gaps, error=probe.error or reason, partial=True)
