"""Run the registered checks over one file, one session or the whole batch.

A check runs once per scope; a check that others use (``uses``) runs first and its candidates
are handed to them, so people never re-run the integrity checks. A used check whose group was
not asked for (``--checks people``) still runs for its users, but emits no findings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.checks.base import Candidate, Inputs
from pipeline.checks.registry import for_groups, get, to_event
from pipeline.findings import SessionContext
from pipeline.inputs.config import Site
from pipeline.records import Event, FileProbe

Results = dict[str, list[Candidate]]


def _run(groups: tuple[str, ...], scope: str, base: Inputs) -> tuple[list[Event], Results]:
    results: Results = {}
    events: list[Event] = []
    for check in for_groups(groups, scope):
        inputs = Inputs(
            site=base.site,
            timeline=base.timeline,
            ctx=base.ctx,
            probe=base.probe,
            contexts=base.contexts,
            outside=base.outside,
            used={u: results[u] for u in check.uses},
        )
        results[check.name] = check.find(inputs)
        if check.group in groups:
            events += [to_event(check, c, inputs) for c in results[check.name]]
    return events, results


def file_events(probe: FileProbe, site: Site, groups: tuple[str, ...]) -> list[Event]:
    return _run(groups, "file", Inputs(site=site, probe=probe))[0]


def session_events(
    timeline: pa.Table, ctx: SessionContext, groups: tuple[str, ...]
) -> tuple[list[Event], Results]:
    """The session's findings and every check's candidates (for statistics that need them)."""
    return _run(groups, "session", Inputs(site=ctx.site, timeline=timeline, ctx=ctx))


def batch_events(
    timeline: pa.Table,
    contexts: Sequence[SessionContext],
    site: Site,
    groups: tuple[str, ...],
    outside: pa.Table | None = None,
) -> list[Event]:
    base = Inputs(site=site, timeline=timeline, contexts=contexts, outside=outside)
    return _run(groups, "batch", base)[0]


def refine(events: list[Event], probes: Mapping[str, FileProbe], site: Site) -> list[Event]:
    """Each check refines its own findings; kinds no check claims pass unchanged."""
    from pipeline.checks.registry import all_checks

    owner = {k.kind: c.name for c in all_checks() for k in c.kinds}
    mine: dict[str, list[Event]] = {}
    out: list[Event] = []
    for e in events:
        if e.kind in owner:
            mine.setdefault(owner[e.kind], []).append(e)
        else:
            out.append(e)
    for name, own in mine.items():
        out += get(name).refine(own, probes, site)
    return out


def analyse_files(
    files: Sequence[tuple[Path, str, str, datetime]], site: Site, analysers: Sequence[Any]
) -> tuple[pa.Table, list[SessionContext], dict[str, FileProbe]]:
    """What a scan does per file, in one process without Dask or the cache (tests and
    benchmarks): probe, chunks, samples, ``analysers``, timeline rows. ``files`` holds
    (path, camera, session, start); each file is one theory session over its whole length.
    Returns the timeline (session ids set), the sessions' contexts and the probes by name."""
    from pipeline.errors import RecordingError
    from pipeline.media.probe import probe_file
    from pipeline.media.sampling import plan_chunks, sample_chunk
    from pipeline.records import ExamSession
    from pipeline.signals import AnalysisContext, run_analysers
    from pipeline.tasks import timeline_rows

    tables, contexts, probes = [], [], {}
    for path, camera_id, session_id, start in files:
        probe = probe_file(path, camera_id, start)
        if probe.error is not None:
            raise RecordingError(path, probe.error)
        probes[path.name] = probe
        camera = site.camera(camera_id)
        ctx = AnalysisContext(
            camera=camera,
            rules=site.rules,
            analysis=site.analysis,
            file_start=start,
            source_file=path.name,
            timezone=site.timezone,
        )
        for chunk in plan_chunks(probe, site.analysis):
            batch = sample_chunk(
                path, chunk, site.analysis, probe, clock_region=camera.clock_region
            )
            table = timeline_rows(probe, batch.t_s, run_analysers(batch, ctx, list(analysers)))
            ids = pa.array([session_id] * table.num_rows, pa.string())
            tables.append(table.set_column(0, "session_id", ids))
        end = start + timedelta(seconds=probe.duration_s)
        session = ExamSession(
            session_id, "C1", "R1", camera_id, "theory", "safety", start, end, 20, 1
        )
        contexts.append(SessionContext(session, camera, site, (probe,)))
    return pa.concat_tables(tables), contexts, probes


def find_refined(
    timeline: pa.Table,
    contexts: Sequence[SessionContext],
    probes: Mapping[str, FileProbe],
    site: Site,
    groups: tuple[str, ...],
) -> list[Event]:
    """The session and batch checks of ``groups`` over :func:`analyse_files`' timeline,
    each refining its own findings (as reduce does, without usual views or statistics)."""
    events: list[Event] = []
    for ctx in contexts:
        own = timeline.filter(pc.equal(timeline["session_id"], ctx.session.session_id))
        events += session_events(own.sort_by([("t", "ascending")]), ctx, groups)[0]
    events += batch_events(timeline, contexts, site, groups)
    return refine(events, probes, site)
