"""Work done inside Dask workers: top-level functions of plain, picklable inputs.

Each task is keyed by content (file hash + config hash + chunk) and checks the cache first, so
a re-run, a retried task after a worker died, or a resumed run repeats no finished work.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from functools import cache
from importlib import import_module
from pathlib import Path

import numpy as np
import pyarrow as pa

from pipeline import schemas
from pipeline.checks.registry import analysers_for
from pipeline.evidence import Cache, probe_from_json, probe_to_json
from pipeline.inputs.config import Site
from pipeline.media.probe import probe_file
from pipeline.records import FileProbe, Recording
from pipeline.signals import AnalysisContext, run_analysers

ANALYSIS_VERSION = "8"  # bump when analysers change what they compute
PROBE_VERSION = "4"  # bump when the probe changes what it records


def probe_task(recording: Recording, evidence_dir: str) -> FileProbe:
    """Probe one file, reusing a cached probe when the file's size and mtime are unchanged."""
    cache = Cache(Path(evidence_dir))
    path = recording.path
    try:
        st = path.stat()
        key = "|".join(
            map(
                str,
                (
                    PROBE_VERSION,
                    path,
                    st.st_size,
                    st.st_mtime_ns,
                    recording.camera_id,
                    recording.start,
                ),
            )
        )
    except OSError:
        key = None
    if key is not None:
        hit = cache.get_json("probe", key)
        if hit is not None:
            return probe_from_json(hit)
    probe = probe_file(path, recording.camera_id, recording.start)
    if key is not None and probe.sha256:
        cache.put_json("probe", key, probe_to_json(probe))
    return probe


@cache
def _one_thread_per_task() -> None:
    """Dask runs one task per core; OpenCV's own thread pool on top would oversubscribe the
    cores. (Dask's nanny already sets OMP_NUM_THREADS=1, which torch and BLAS follow.)"""
    import cv2

    cv2.setNumThreads(1)


_detectors: dict[tuple[str, str], object] = {}
_detectors_lock = threading.Lock()  # the warm-up thread and a task may ask at the same time


def _detector(spec: str, device: str):
    """One detector per worker process (built by :func:`warm_up` or by the first task)."""
    with _detectors_lock:
        if (spec, device) not in _detectors:
            from pipeline.detectors import make_detector

            _detectors[spec, device] = make_detector(spec, device)
        return _detectors[spec, device]


_warmed: set[tuple[tuple[str, ...], str, str]] = set()


def warm_up(checks: tuple[str, ...], detector: str, device: str) -> None:
    """What every analysis task needs, loaded once per worker before its first chunk: the
    analysers' modules, the person detector with its first inference run (onnxruntime and
    torch allocate then) and the clock's OCR engine. The scan's own workers run it as they
    start (:func:`pipeline.dispatch.local_cluster`), a given scheduler's workers in a thread
    (:class:`pipeline.dispatch.WarmUp`); once done, asking again costs nothing."""
    if (checks, detector, device) in _warmed:
        return
    _one_thread_per_task()
    import_module("pipeline.media.sampling")
    analysers_for(checks)
    if "people" in checks and detector != "-":
        det = _detector(detector, device)
        det.detect(np.zeros((1, 360, 640, 3), np.uint8))
    if "integrity" in checks:
        from pipeline.signals.clock import recognise_many

        recognise_many([np.full((48, 480), 128, np.uint8)])  # the engine and its first run
    _warmed.add((checks, detector, device))


def chunk_key(probe: FileProbe, chunk, site: Site, checks: tuple[str, ...], detector: str) -> str:
    return "|".join(
        [
            ANALYSIS_VERSION,
            probe.sha256,
            site.config_hash(),
            ",".join(checks),
            detector if "people" in checks else "-",
            f"{chunk.start_s:.3f}-{chunk.end_s:.3f}",
        ]
    )


def analyse_task(
    probe: FileProbe,
    chunk,
    site: Site,
    checks: tuple[str, ...],
    detector: str,
    device: str,
    evidence_dir: str,
) -> pa.Table:
    """Decode one chunk once and run every analyser on the same frames -> timeline rows."""
    from pipeline.media.sampling import sample_chunk

    _one_thread_per_task()
    cache = Cache(Path(evidence_dir))
    key = chunk_key(probe, chunk, site, checks, detector)
    hit = cache.get_table("timeline", key)
    if hit is not None:
        return hit
    camera = site.camera(probe.camera_id or "")
    batch = sample_chunk(probe.path, chunk, site.analysis, probe, clock_region=camera.clock_region)
    ctx = AnalysisContext(
        camera=camera,
        rules=site.rules,
        analysis=site.analysis,
        detector=_detector(detector, device) if "people" in checks else None,
        file_start=probe.start,
        source_file=probe.path.name,
        timezone=site.timezone,
    )
    columns = run_analysers(batch, ctx, analysers_for(checks))
    table = timeline_rows(probe, np.asarray(batch.t_s, dtype=np.float64), columns)
    cache.put_table("timeline", key, table)
    return table


def timeline_rows(probe: FileProbe, t_s: np.ndarray, columns: dict[str, np.ndarray]) -> pa.Table:
    """Rows in the TIMELINE schema (session_id filled in later, per session)."""
    n = len(t_s)
    assert probe.start is not None
    data: dict[str, pa.Array] = {}
    for field in schemas.TIMELINE:
        name = field.name
        if name == "session_id":
            data[name] = pa.nulls(n, pa.string())
        elif name == "camera_id":
            data[name] = pa.array([probe.camera_id] * n, pa.string())
        elif name == "t":
            times = [probe.start + timedelta(seconds=float(s)) for s in t_s]
            data[name] = pa.array(times, field.type)
        elif name == "source_file":
            data[name] = pa.array([probe.path.name] * n, pa.string())
        elif name == "t_file_s":
            data[name] = pa.array(t_s, pa.float64())
        elif name in columns:
            values = np.asarray(columns[name])
            mask = np.isnan(values) if values.dtype.kind == "f" else None
            if pa.types.is_integer(field.type) and values.dtype.kind == "f":
                data[name] = pa.array(
                    np.nan_to_num(values).astype(field.type.to_pandas_dtype()),
                    field.type,
                    mask=mask,
                )
            else:
                data[name] = pa.array(values, field.type, mask=mask)
        else:
            data[name] = pa.nulls(n, field.type)
    return pa.table(data, schema=schemas.TIMELINE)


def media_task(event, probes, evidence_dir: str, site: Site, detector: str, device: str):
    """Clip(s) and thumbnail of one finding; thumbnails show the scan's own detector."""
    from pipeline.review.clips import cut_one

    _one_thread_per_task()
    return cut_one(
        event,
        probes,
        Path(evidence_dir),
        site,
        detector=_detector(detector, device) if detector != "-" else None,
    )


def sheets_task(sessions, probes, evidence_dir: str, site: Site) -> dict[str, str]:
    """One contact sheet per session (frames spread over the scheduled window)."""
    from pipeline.review.sheets import write_contact_sheets

    return write_contact_sheets(sessions, probes, Path(evidence_dir), site)
