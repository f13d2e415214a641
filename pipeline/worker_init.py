"""Set-up of the scan's own worker processes, run by Dask as each starts (a preload module),
and what of it the ``examaudit scan`` command's own process shares (:func:`leave_out_unused`).

- Ctrl-C is the client's: a terminal sends SIGINT to the whole process group, and a worker
  dying of it before the client noticed would be collected as a failed chunk, so the scan
  wrote evidence for an interrupted run. Workers ignore SIGINT; the client stops them.
- pandas is never used by a worker, but when it is installed (the notebook's extra) pyarrow
  imports it on the first conversion of any array (``pa.array``, ``to_numpy``): measured
  0.5-0.7 s of one worker's CPU on the 2-core machine, paid again by every worker of every
  scan. An import hook makes ``import pandas`` fail in these processes, which pyarrow takes as
  "not installed".
- The analysis's models (the person detector with its first run, the clock's OCR) are loaded
  before the worker joins, when the cluster asks for it (:func:`warm_up_from_environment`):
  all workers at once while nothing else runs, not next to each worker's first chunk.

Only workers of :func:`pipeline.dispatch.local_cluster` load this, and the ``scan`` command
leaves pandas out of its own process too (the scan never uses it); a library caller of
:func:`pipeline.scan.run_scan` and the workers of a cluster given with ``--scheduler`` are left
as they are.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec

UNUSED = frozenset({"pandas"})
log = logging.getLogger(__name__)


class _Unused(MetaPathFinder, Loader):
    """Finds the modules a scan worker never uses, and fails to load them.

    ``find_spec`` answers with a spec without origin instead of raising: libraries probe with
    ``importlib.util.find_spec`` (torch's dynamo does, as YOLO loads) and take no origin as
    nothing to look at; an actual ``import`` then raises ModuleNotFoundError, which pyarrow
    and others take as "not installed"."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in UNUSED:
            return ModuleSpec(name, self)
        return None

    def create_module(self, spec):
        raise ModuleNotFoundError(
            f"{spec.name}: not loaded in ExamAudit's scan processes", name=spec.name
        )

    def exec_module(self, module) -> None:  # never reached: create_module raises
        raise ModuleNotFoundError(module.__name__, name=module.__name__)


def leave_out_unused() -> None:
    """Refuse the imports in :data:`UNUSED` from now on in this process (not once loaded)."""
    if not any(name in sys.modules for name in UNUSED) and not any(
        isinstance(f, _Unused) for f in sys.meta_path
    ):
        sys.meta_path.insert(0, _Unused())


def dask_setup(worker=None) -> None:
    """Called by Dask once per worker process, before any task and before the worker joins
    the scheduler: the set-up above, then the analysis's models when the cluster was asked to
    load them (:func:`pipeline.dispatch.local_cluster`)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    leave_out_unused()
    warm_up_from_environment()


def warm_up_from_environment() -> bool:
    """Run :func:`pipeline.tasks.warm_up` with the arguments the cluster set; a failure is
    logged and only loses the head start (each task loads what it needs on demand)."""
    from pipeline.dispatch import WARM_UP_ENV

    raw = os.environ.get(WARM_UP_ENV)
    if not raw:
        return False
    try:
        checks, detector, device = json.loads(raw)
        from pipeline.tasks import warm_up

        warm_up(tuple(checks), str(detector), str(device))
    except Exception as exc:
        log.warning("worker warm-up failed (%s: %s); tasks load on demand", WARM_UP_ENV, exc)
        return False
    return True
