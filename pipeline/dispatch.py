"""Dask plumbing for the scan: the cluster, and collecting tasks so that one bad file never
stalls the batch (a task without progress for the per-file timeout is declared hung)."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from distributed.diagnostics.plugin import WorkerPlugin

# what a worker of the scan's own cluster loads as it starts (:func:`pipeline.tasks.warm_up`):
# (checks, detector spec, device) as JSON, read by pipeline.worker_init
WARM_UP_ENV = "EXAMAUDIT_WARM_UP"
WarmUpArgs = tuple[tuple[str, ...], str, str]


@contextmanager
def dask_client(workers: int | None, scheduler: str | None, warm_up: WarmUpArgs | None = None):
    """A client on ``scheduler`` or on a local cluster of worker processes (which load
    ``warm_up`` as they start; a given scheduler's workers get :class:`WarmUp` instead)."""
    from distributed import Client

    logging.getLogger("distributed").setLevel(logging.ERROR)
    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    with (
        local_cluster(workers or os.cpu_count() or 1, warm_up) as cluster,
        Client(cluster) as client,
    ):
        yield client


def needs_warm_up(checks: tuple[str, ...]) -> bool:
    """Only the picture and people analysers load models (OCR, the person detector)."""
    return any(c in checks for c in ("integrity", "people"))


# imported by every worker process as it starts, before any task reaches it: the worker's
# set-up (pipeline.worker_init), then the task code and its libraries (PyAV, Arrow, NumPy),
# 0.1-0.2 s that the first task would otherwise pay
WORKER_PRELOAD = ("pipeline.worker_init", "pipeline.tasks")
# Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers (against fragmentation in
# long-lived workers holding many small objects). A fixed trim threshold also switches off
# glibc's adaptive mmap threshold, so every buffer over 128 KiB (each decoded picture, every
# onnxruntime tensor) is mmapped and unmapped, page-faulting afresh: measured on the 2-core
# machine, OCR reads took 0.23 s instead of 0.04 s for a new shape and 0.075 instead of 0.036 s
# after. A scan's worker keeps few objects and one chunk at a time; glibc's defaults stay.
KEEP_MALLOC_DEFAULTS = ("MALLOC_TRIM_THRESHOLD_",)
# Dask's periodic book-keeping, made for long-lived interactive clusters with a dashboard:
# the statistical profiler sampling each task's stack every 10 ms, the event-loop latency
# tick every 20 ms, the system monitor (psutil) every 0.5 s and the memory monitors every
# 0.1 s. An idle 2-worker cluster burned 0.24 CPU s in 3 s with them (workers 0.08 s each,
# the client 0.09 s), nothing without: 8 % of a 2-core machine a scan needs for its work.
# The scan's own cluster has no dashboard; the memory limit is still enforced, once a second.
QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}


@contextmanager
def local_cluster(workers: int, warm_up: WarmUpArgs | None = None):
    """The local Dask cluster of a scan: one single-threaded worker process per core.

    With ``warm_up`` (checks, detector spec, device), each worker loads what the analysis
    needs (:func:`pipeline.tasks.warm_up`) as it starts, before it joins: all workers at
    once, while nothing else runs, instead of on each worker's core next to its first chunk
    (measured on the 2-core machine: 0.5-0.85 s of every worker's first chunk)."""
    import dask
    from distributed import LocalCluster

    dask_environ = dask.config.get("distributed.nanny.pre-spawn-environ", {})
    environ = {k: v for k, v in dask_environ.items() if k not in KEEP_MALLOC_DEFAULTS}
    for key in KEEP_MALLOC_DEFAULTS:
        # a nanny also writes its variables into this process's environment, which later
        # workers inherit: drop the value an earlier Dask cluster left (a user's own stays)
        if key in dask_environ and os.environ.get(key) == str(dask_environ[key]):
            del os.environ[key]
    with (
        dask.config.set({"distributed.nanny.pre-spawn-environ": environ, **QUIET_CLUSTER}),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            # no dashboard; ":0" also keeps the scheduler's HTTP endpoint off port 8787, so
            # concurrent scans on one machine do not warn about a busy port
            dashboard_address=":0",
            silence_logs=logging.ERROR,
            preload=list(WORKER_PRELOAD),
            # set in the worker process only (pre-spawn variables also land in this one's)
            env={WARM_UP_ENV: json.dumps(list(warm_up))} if warm_up else {},
        ) as cluster,
    ):
        yield cluster


class WarmUp(WorkerPlugin):
    """Loads the analysis (modules, person detector, OCR) on every worker of a cluster the
    scan was given (``--scheduler``; its own cluster's workers load it as they start), now and
    on workers that join or restart later, in a thread of the worker, while its first chunk
    decodes (:func:`pipeline.tasks.warm_up`). Registered once the files are probed:
    measured on the loaded 2-core machine, a warm-up during the probe slowed the probe
    (2-4 s -> 6-8 s of the probe stage), which every scan waits for."""

    name = "examaudit-warm-up"

    def __init__(self, checks: tuple[str, ...], detector: str, device: str) -> None:
        self.args = (tuple(checks), detector, device)

    def setup(self, worker) -> None:
        from pipeline.tasks import warm_up

        threading.Thread(target=warm_up, args=self.args, name=self.name, daemon=True).start()


def warm_up_workers(client, checks: tuple[str, ...], detector: str, device: str) -> None:
    """Register :class:`WarmUp` (returns once every worker has started its warm-up thread;
    the scan calls it from a thread and does not wait)."""
    if not needs_warm_up(checks):
        return
    client.register_plugin(WarmUp(checks, detector, device), name=WarmUp.name)


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
