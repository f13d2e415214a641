"""Progress on a terminal: stage, files/sessions/chunks done, throughput, ETA.

Quiet when stderr is not a terminal unless asked (``--progress``), so logs and CI stay clean.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress


class Progress:
    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None
        self._t0 = time.monotonic()
        self._frames = 0
        self._seconds = 0.0
        self._name: str | None = None
        self.timings: dict[str, float] = {}  # seconds per finished stage, for benchmarks

    def __enter__(self) -> Progress:
        if self.enabled:
            self._bar = RichProgress(
                TextColumn("[bold]{task.description:<9}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[unit]}"),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(stderr=True, force_terminal=True),
                transient=False,
            )
            self._bar.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close_stage()
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)

    def _close_stage(self) -> None:
        if self._name is not None:
            elapsed = time.monotonic() - self._t0
            self.timings[self._name] = self.timings.get(self._name, 0.0) + elapsed
            self._name = None

    def stage(self, name: str, total: int, unit: str) -> None:
        self._close_stage()
        self._name = name
        self._t0 = time.monotonic()
        self._frames = 0
        self._seconds = 0.0
        if self._bar is not None:
            self._task = self._bar.add_task(name, total=total, unit=unit, rate="")

    def advance(self, frames: int = 0, seconds: float = 0.0) -> None:
        self._frames += frames
        self._seconds += seconds
        if self._bar is None or self._task is None:
            return
        elapsed = max(time.monotonic() - self._t0, 1e-6)
        parts = []
        if self._frames:
            parts.append(f"{self._frames / elapsed:,.0f} frames/s")
        if self._seconds:
            parts.append(f"{self._seconds / elapsed:,.0f}x real time")
        self._bar.update(self._task, advance=1, rate=" ".join(parts))
