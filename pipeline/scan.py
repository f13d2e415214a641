"""`examaudit scan`: plan -> probe -> sample -> signals -> events -> evidence, on Dask.

Dask runs one task per file (probe) and per (file, time chunk) (sampling and analysers); the
per-session reduction (finders, statistics) is cheap and runs here. The same code runs on a
local cluster of worker processes and on a distributed cluster (``--scheduler``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline import evidence, schemas, seal
from pipeline.analysis import CHECKS
from pipeline.checks import runner
from pipeline.config import Site, load_site
from pipeline.errors import InputError
from pipeline.findings import SessionContext
from pipeline.findings.coverage import session_coverage
from pipeline.plan import plan_sessions
from pipeline.probe import failed_probe
from pipeline.progress import Progress
from pipeline.recordings import discover
from pipeline.records import Event, ExamSession, FileProbe, TimeGap
from pipeline.schedule import load_schedule
from pipeline.tasks import analyse_task, media_task, probe_task, sheets_task

log = logging.getLogger("examaudit")


@dataclass(frozen=True)
class ScanOptions:
    recordings: Path
    schedule: Path | None = None
    site: Path | None = None
    out: Path = Path("evidence")
    workers: int | None = None
    scheduler: str | None = None
    detector: str = "auto"
    device: str = "cpu"
    sample_every: float | None = None
    checks: tuple[str, ...] = CHECKS
    progress: bool | None = None  # None: only on a terminal
    clips: bool = True
    report: bool = True
    sign_key: Path | None = None  # Ed25519 private key that signs the seal
    reference: Path | None = None  # earlier evidence whose cameras' usual views are pinned


@dataclass
class ScanResult:
    exit_code: int
    evidence: Path
    files: int = 0
    unreadable: int = 0
    sessions: int = 0
    events: int = 0
    detector: str | None = None
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage


def resolve_inputs(opts: ScanOptions) -> tuple[Site, list[ExamSession]]:
    """Load and cross-check site.toml and schedule.csv (InputError -> exit 2)."""
    root = Path(opts.recordings)
    if not root.exists():
        raise InputError(root, None, "recordings folder not found")
    folder = root if root.is_dir() else root.parent
    site_path = opts.site or (folder / "site.toml" if (folder / "site.toml").is_file() else None)
    schedule_path = opts.schedule or folder / "schedule.csv"
    if opts.schedule is None and not schedule_path.is_file():
        raise InputError(
            schedule_path,
            None,
            "no schedule: pass --schedule or put schedule.csv in the recordings folder",
        )
    site = load_site(site_path).with_sample_every(opts.sample_every)
    if opts.reference is not None:  # read now: a bad folder is bad usage (exit 2)
        from pipeline.findings.usual_view import carried_views

        carried_views(opts.reference)
    sessions = load_schedule(schedule_path)
    for s in sessions:
        cam = site.cameras.get(s.camera_id)
        if s.exam_type == "practical" and cam is not None and cam.station_zone is None:
            raise InputError(
                site.path or "site.toml",
                f"cameras.{s.camera_id}.station_zone",
                f"missing: camera hosts practical session {s.session_id} "
                f"({schedule_path.name}), which needs a station zone",
            )
    return site, sessions


@contextmanager
def dask_client(workers: int | None, scheduler: str | None):
    """A client on ``scheduler`` or on a local cluster of worker processes."""
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)
    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            # no dashboard; ":0" also keeps the scheduler's HTTP endpoint off port 8787, so
            # concurrent scans on one machine do not warn about a busy port
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _session_timeline(tables: pa.Table, s: ExamSession) -> pa.Table:
    if tables.num_rows == 0:
        return schemas.TIMELINE.empty_table()
    mask = pc.and_(
        pc.equal(tables["camera_id"], s.camera_id),
        pc.and_(
            pc.greater_equal(tables["t"], pa.scalar(s.scheduled_start, schemas.TS)),
            pc.less(tables["t"], pa.scalar(s.scheduled_end, schemas.TS)),
        ),
    )
    part = tables.filter(mask).sort_by([("t", "ascending")])
    ids = pa.array([s.session_id] * part.num_rows, pa.string())
    return part.set_column(0, "session_id", ids)


def _people_stats(
    timeline: pa.Table, ctx: SessionContext, checks: Sequence[str], results: runner.Results
) -> dict:
    empty = {
        "proctor_presence": None,
        "longest_proctor_absence_s": None,
        "station_activity": None,
        "proctors_seen": None,
        "candidates_seen": None,
    }
    if "people" not in checks:
        return empty
    from pipeline.checks.base import Inputs
    from pipeline.checks.people import UNUSABLE, unusable_spans
    from pipeline.findings.headcount import session_headcount_stats
    from pipeline.findings.people import session_people_stats

    used = Inputs(site=ctx.site, used={u: results.get(u, []) for u in UNUSABLE})
    excluded = unusable_spans(used)
    return {
        **empty,
        **session_people_stats(timeline, ctx, excluded),
        **session_headcount_stats(timeline, ctx, excluded),
    }


def _verdict(coverage: float, events: int) -> str:
    if coverage <= 0:
        return "missing"
    return "flag" if events else "pass"


def run_scan(opts: ScanOptions, say: Callable[[str], None] = print) -> ScanResult:
    """The whole scan. Input errors raise InputError; unreadable recordings do not."""
    site, sessions = resolve_inputs(opts)
    out = Path(opts.out)
    key = seal.signing_key(opts.sign_key, out)  # a bad key fails now, not after the work
    evidence.check_writable(out)
    evidence.sweep_temp_files(out)
    recordings = discover(Path(opts.recordings), site)
    root = Path(opts.recordings) if Path(opts.recordings).is_dir() else Path(opts.recordings).parent
    checks = opts.checks
    result = ScanResult(exit_code=0, evidence=out)
    detector_spec = "-"
    if "people" in checks:
        from pipeline.detectors import make_detector

        det = make_detector(opts.detector, opts.device)
        detector_spec = getattr(det, "spec", det.name)
        result.detector = det.name
        say(f"detector: {det.name} ({getattr(det, 'reason', 'as requested')})")
    with ExitStack() as stack:
        progress = stack.enter_context(Progress(enabled=opts.progress))
        progress.stage("cluster", total=1, unit="")
        client = stack.enter_context(dask_client(opts.workers, opts.scheduler))
        progress.advance()
        probes = _probe(client, recordings, site, out, progress)
        contexts, warnings = plan_sessions(sessions, probes, site)
        result.warnings.extend(warnings)
        for w in warnings:
            say(f"warning: {w}")
        timeline, failures = _analyse(
            client, contexts, site, checks, detector_spec, opts, out, progress
        )
        if failures:  # undecodable chunks count as lost video, like a gap inside the file
            probes = [
                mark_undecodable(p, failures[str(p.path)]) if str(p.path) in failures else p
                for p in probes
            ]
            contexts, _ = plan_sessions(sessions, probes, site)
        events, session_rows, full_timeline, views = _reduce(
            contexts, probes, timeline, site, checks, progress, opts.reference
        )
        if opts.clips and events:
            events = _cut_media(
                client, events, probes, contexts, site, detector_spec, opts.device, out, progress
            )
    result.files = len(probes)
    result.unreadable = len({e.source_file for e in events if e.kind == "file_unreadable"})
    result.sessions = len(session_rows)
    result.events = len(events)
    result.timings = dict(progress.timings)
    t0 = time.perf_counter()
    _write_tables(out, root, probes, session_rows, events, full_timeline, views)
    result.timings["write"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _write_manifest(out, root, probes, site, opts, key)
    result.timings["manifest"] = time.perf_counter() - t0
    if opts.report:  # a derived view, made after the seal that gives it the site's time zone
        t0 = time.perf_counter()
        _report(out, key)
        result.timings["report"] = time.perf_counter() - t0
    result.exit_code = 1 if result.unreadable else 0
    return result


def _probe(client, recordings, site: Site, out: Path, progress: Progress) -> list[FileProbe]:
    """One probe task per file; a task that fails or hangs becomes an unreadable file."""
    progress.stage("probe", total=len(recordings), unit="files")
    futures = client.map(probe_task, recordings, evidence_dir=str(out), pure=False, retries=2)
    recording_of = {f.key: r for f, r in zip(futures, recordings, strict=True)}
    probes: list[FileProbe] = []
    for fut, probe in collect(client, futures, site.analysis.file_timeout_s):
        if isinstance(probe, Exception):  # the probe itself never raises for a bad file
            rec = recording_of[fut.key]
            probe = failed_probe(rec.path, rec.camera_id, rec.start, f"probe failed: {probe}")
        probes.append(probe)
        progress.advance(seconds=probe.duration_s)
    return probes


def _reduce(
    contexts: Sequence[SessionContext],
    probes: Sequence[FileProbe],
    timeline: pa.Table,
    site: Site,
    checks: tuple[str, ...],
    progress: Progress,
    reference: Path | None = None,
) -> tuple[list[Event], list[dict[str, Any]], pa.Table, dict[str, bytes]]:
    """Each camera's usual view over the batch; per session: its timeline, findings and
    statistics; then loops over the whole batch, refinement, and the file-level findings
    (counted in the sessions they overlap). Also returns views.parquet and its pictures."""
    progress.stage("sessions", total=len(contexts), unit="sessions")
    file_events = [e for p in probes for e in runner.file_events(p, site, checks)]
    events: list[Event] = []
    rows: list[dict[str, Any]] = []
    timelines = [_session_timeline(timeline, ctx.session) for ctx in contexts]
    view_files: dict[str, bytes] = {}
    if "integrity" in checks:
        from pipeline.review.views import batch_views_with_pictures

        contexts, found, view_files = batch_views_with_pictures(
            list(contexts), timelines, probes, site, reference
        )
        events.extend(found)
    for ctx, tl in zip(contexts, timelines, strict=True):
        s = ctx.session
        found, results = runner.session_events(tl, ctx, checks)
        events.extend(found)
        cov = session_coverage(ctx)
        rows.append(
            {
                "session_id": s.session_id,
                "centre_id": s.centre_id,
                "room_id": s.room_id,
                "camera_id": s.camera_id,
                "exam_type": s.exam_type,
                "scheduled_start": s.scheduled_start,
                "scheduled_end": s.scheduled_end,
                "recorded_s": cov.recorded_s,
                "coverage": cov.coverage,
                "longest_gap_s": cov.longest_gap_s,
                **_people_stats(tl, ctx, checks, results),
            }
        )
        progress.advance()
    full = pa.concat_tables(timelines) if timelines else schemas.TIMELINE.empty_table()
    events.extend(runner.batch_events(full, contexts, site, checks))
    events = runner.refine(events, {p.path.name: p for p in probes}, site)
    for row, ctx in zip(rows, contexts, strict=True):
        s = ctx.session
        related = sum(
            e.camera_id == s.camera_id and e.start < s.scheduled_end and e.end > s.scheduled_start
            for e in file_events
        )
        row["event_count"] = sum(e.session_id == s.session_id for e in events) + related
        row["verdict"] = _verdict(row["coverage"], row["event_count"])
        if row["exam_type"] != "practical":
            row["station_activity"] = None
    return events + file_events, rows, full, view_files


@dataclass(frozen=True)
class Hung(Exception):
    """A task made no progress for the per-file timeout; its worker was restarted."""

    timeout_s: float

    def __str__(self) -> str:
        return f"no progress within {self.timeout_s:g} s (per-file timeout); worker restarted"


def collect(client, futures: Sequence, timeout_s: float):
    """Yield ``(future, result_or_exception)`` as tasks finish.

    When no task finishes for ``timeout_s``, the tasks still running are declared hung: they
    are cancelled, their workers restarted (a hung decoder cannot be interrupted in-process),
    and each is yielded with a :class:`Hung` error, so one bad file never stalls the batch.
    """
    from distributed import wait

    pending = set(futures)
    while pending:
        try:
            done, pending = wait(pending, timeout=timeout_s, return_when="FIRST_COMPLETED")
        except TimeoutError:
            processing = client.processing()
            running = {k for keys in processing.values() for k in keys}
            hung = {f for f in pending if f.key in running}
            workers = [w for w, keys in processing.items() if running & set(keys)]
            for fut in hung:
                fut.cancel()
                yield fut, Hung(timeout_s)
            pending -= hung
            if workers:
                client.restart_workers(workers, raise_for_error=False)
            continue
        for fut in done:
            try:
                yield fut, fut.result()
            except Exception as exc:
                yield fut, exc


def _analyse(
    client, contexts, site, checks, detector_spec, opts, out, progress
) -> tuple[pa.Table, dict[str, list[tuple[Any, str]]]]:
    """Timeline rows of every chunk, and the chunks that could not be decoded, per file."""
    failures: dict[str, list[tuple[Any, str]]] = {}
    if not any(c in checks for c in ("integrity", "people")):
        return schemas.TIMELINE.empty_table(), failures
    from pipeline.sampling import plan_chunks

    windows: dict[str, list[tuple]] = {}
    probes: dict[str, FileProbe] = {}
    for ctx in contexts:
        for p in ctx.probes:
            if p.duration_s <= 0 or p.start is None:
                continue
            probes[str(p.path)] = p
            windows.setdefault(str(p.path), []).append(
                (ctx.session.scheduled_start, ctx.session.scheduled_end)
            )
    jobs = []
    for key, p in sorted(probes.items()):
        for chunk in plan_chunks(p, site.analysis):
            c0 = p.start + timedelta(seconds=chunk.start_s)
            c1 = p.start + timedelta(seconds=chunk.end_s)
            if any(c0 < b and a < c1 for a, b in windows[key]):
                jobs.append((p, chunk))
    progress.stage("analyse", total=len(jobs), unit="chunks")
    futures = [
        client.submit(
            analyse_task,
            p,
            chunk,
            site,
            checks,
            detector_spec,
            opts.device,
            str(out),
            pure=False,
            retries=2,
        )
        for p, chunk in jobs
    ]
    tables = []
    job_of = {fut.key: job for fut, job in zip(futures, jobs, strict=True)}
    for fut, table in collect(client, futures, site.analysis.file_timeout_s):
        if isinstance(table, Exception):  # a chunk that cannot be decoded loses only itself
            p, chunk = job_of[fut.key]
            failures.setdefault(str(p.path), []).append((chunk, f"{type(table).__name__}: {table}"))
            progress.advance()
            continue
        tables.append(table)
        span = (
            float(pc.max(table["t_file_s"]).as_py() or 0)
            - float(pc.min(table["t_file_s"]).as_py() or 0)
            if table.num_rows
            else 0.0
        )
        progress.advance(frames=table.num_rows, seconds=span)
    if not tables:
        return schemas.TIMELINE.empty_table(), failures
    timeline = pa.concat_tables(tables).sort_by([("camera_id", "ascending"), ("t", "ascending")])
    return timeline, failures


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


def _cut_media(client, events, probes, contexts, site, detector_spec, device, out, progress):
    """Clips and thumbnails, one task per finding, plus one contact sheet per session."""
    by_name = {p.path.name: p for p in probes}
    progress.stage("clips", total=len(events), unit="clips")
    futures = [
        client.submit(media_task, e, by_name, str(out), site, detector_spec, device, pure=False)
        for e in events
    ]
    sessions = [ctx.session for ctx in contexts]
    sheets = client.submit(sheets_task, sessions, by_name, str(out), site, pure=False)
    done = {}
    for _fut, event in collect(client, futures, site.analysis.file_timeout_s):
        if isinstance(event, Exception):  # the finding stays; only its media is missing
            log.warning("media failed: %s", event)
            continue
        done[event.event_id] = event
        progress.advance()
    sheets.result()
    return [done.get(e.event_id, e) for e in events]


def _write_tables(out, root, probes, session_rows, events, timeline, extra=None) -> None:
    tables = {
        "files": evidence.files_table(probes, root),
        "sessions": evidence.sessions_table(session_rows),
        "events": evidence.events_table(events),
        "timeline": timeline.cast(schemas.TIMELINE),
    }
    files = {out / f"{name}.parquet": evidence.table_bytes(t) for name, t in tables.items()}
    files.update({out / rel: data for rel, data in (extra or {}).items()})
    evidence.commit_files(files)


def _write_manifest(out, root, probes, site: Site, opts: ScanOptions, key) -> None:
    inputs = {
        "recordings": str(Path(opts.recordings).resolve()),
        "site": str(site.path.resolve()) if site.path else None,
        "checks": list(opts.checks),
        "sample_every_s": site.analysis.sample_every_s,
        "timezone": site.timezone,
        "files": {evidence.display_path(p.path, root): p.sha256 for p in probes},
    }
    seal.seal_primary(out, inputs, site.config_hash(), sign_key=key)


def _report(out: Path, key) -> None:
    from pipeline.review.report import write_report

    with evidence.evidence_lock(out):
        seal.reseal(out, [write_report(out)], sign_key=key)
