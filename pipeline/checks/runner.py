"""Run the registered checks over one file, one session or the whole batch.

A check runs once per scope; a check that others use (``uses``) runs first and its candidates
are handed to them, so people never re-run the integrity checks. A used check whose group was
not asked for (``--checks people``) still runs for its users, but emits no findings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa

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
