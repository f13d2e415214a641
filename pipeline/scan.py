"""`examaudit scan`: plan -> probe -> sample -> signals -> events -> evidence, on Dask.

Dask runs one task per file (probe) and per (file, time chunk) (sampling and analysers,
:mod:`pipeline.chunks`); the per-session reduction (:mod:`pipeline.reduce`) is cheap and runs
here. The same code runs on a local cluster of worker processes and on a distributed cluster
(``--scheduler``, :mod:`pipeline.dispatch`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import evidence, schemas, seal
from pipeline.checks.registry import GROUPS as CHECKS
from pipeline.chunks import analyse, derived_sessions, mark_undecodable
from pipeline.dispatch import collect, dask_client, needs_warm_up, warm_up_workers
from pipeline.errors import InputError
from pipeline.inputs.config import Site, load_site
from pipeline.inputs.plan import plan_sessions
from pipeline.inputs.recordings import discover
from pipeline.inputs.schedule import load_schedule
from pipeline.media.probe import failed_probe
from pipeline.progress import Progress
from pipeline.records import ExamSession, FileProbe
from pipeline.reduce import reduce_batch
from pipeline.tasks import media_task, probe_task, sheets_task

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
    no_schedule: bool = False  # no exam plan: sessions derived from the recordings


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
    if opts.no_schedule:
        if opts.schedule is not None:
            raise InputError(opts.schedule, None, "--schedule and --no-schedule exclude each other")
        if "people" not in opts.checks:
            raise InputError(
                root, None, "--no-schedule derives sessions from people: needs the people checks"
            )
    elif opts.schedule is None and not schedule_path.is_file():
        raise InputError(
            schedule_path,
            None,
            "no schedule: pass --schedule FILE, put schedule.csv in the recordings folder, "
            "or scan --no-schedule (no exam plan: sessions derived from the recordings)",
        )
    site = load_site(site_path).with_sample_every(opts.sample_every)
    if opts.reference is not None:  # read now: a bad folder is bad usage (exit 2)
        from pipeline.findings.usual_view import carried_views

        carried_views(opts.reference)
    sessions = [] if opts.no_schedule else load_schedule(schedule_path)
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
    with ExitStack() as stack:
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=1))
        progress = stack.enter_context(Progress(enabled=opts.progress))
        progress.stage("cluster", total=1, unit="")
        if opts.scheduler:  # resolving ``auto`` (a network test) while the client connects
            resolving = pool.submit(_resolve_detector, opts) if "people" in checks else None
            client = stack.enter_context(dask_client(None, opts.scheduler))
            det = resolving.result() if resolving is not None else None
        else:  # the own cluster's workers load the resolved detector as they start
            det = _resolve_detector(opts) if "people" in checks else None
        if det is not None:
            detector_spec = getattr(det, "spec", det.name)
            result.detector = det.name
            say(f"detector: {det.name} ({getattr(det, 'reason', 'as requested')})")
        warm = (checks, detector_spec, opts.device) if needs_warm_up(checks) else None
        if not opts.scheduler:
            client = stack.enter_context(dask_client(opts.workers, None, warm))
        progress.advance()
        probes = _probe(client, recordings, site, out, progress)
        # workers of a given scheduler get the warm-up as a plugin, not waited for: their
        # replies come late while their warm-up threads import and load models (measured:
        # ~1 s of the client idle before the first chunk went out)
        warming = pool.submit(warm_up_workers, client, *warm) if opts.scheduler and warm else None
        if opts.no_schedule:
            sessions = derived_sessions(
                client, probes, site, checks, detector_spec, opts, out, progress
            )
            say(f"no exam plan: {len(sessions)} sessions derived from the recordings")
        contexts, warnings = plan_sessions(sessions, probes, site, planned=not opts.no_schedule)
        result.warnings.extend(warnings)
        for w in warnings:
            say(f"warning: {w}")
        timeline, outside, failures = analyse(
            client, contexts, probes, site, checks, detector_spec, opts, out, progress
        )
        if warming is not None and warming.exception() is not None:  # tasks load on demand
            log.warning("worker warm-up not registered: %s", warming.exception())
        if failures:  # undecodable chunks count as lost video, like a gap inside the file
            probes = [
                mark_undecodable(p, failures[str(p.path)]) if str(p.path) in failures else p
                for p in probes
            ]
            contexts, _ = plan_sessions(sessions, probes, site, planned=not opts.no_schedule)
        events, session_rows, full_timeline, views = reduce_batch(
            contexts, probes, timeline, site, checks, progress, opts.reference, outside
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


def _resolve_detector(opts: ScanOptions):
    from pipeline.detectors import make_detector

    return make_detector(opts.detector, opts.device)


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
    tables["fingerprints"] = tables["timeline"].select(schemas.FINGERPRINTS.names)
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
        "no_schedule": opts.no_schedule,  # no exam plan given (checklist item 3)
        "files": {evidence.display_path(p.path, root): p.sha256 for p in probes},
    }
    seal.seal_primary(out, inputs, site.config_hash(), sign_key=key)


def _report(out: Path, key) -> None:
    from pipeline.review.report import write_report

    with evidence.evidence_lock(out):
        seal.reseal(out, [write_report(out)], sign_key=key)
