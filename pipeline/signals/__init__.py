"""Analysers: small, independent, pure functions of sampled frames -> timeline columns.

Every analyser reads the same :class:`~pipeline.media.frames.FrameBatch`; adding one adds no
decoding. Column names and types are declared in :mod:`pipeline.schemas` (TIMELINE).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING, Protocol

import numpy as np

from pipeline.inputs.config import Analysis, Camera, Rules
from pipeline.media.frames import FrameBatch

if TYPE_CHECKING:
    from pipeline.detectors import Detector


@dataclass(frozen=True)
class AnalysisContext:
    """What an analyser may know besides the frames: the camera's zones and the rules."""

    camera: Camera
    rules: Rules
    analysis: Analysis
    detector: Detector | None = None
    file_start: datetime | None = None  # wall-clock time of file offset 0 (UTC)
    source_file: str | None = None
    timezone: str | None = None  # site timezone: burned-in clocks show local time


class Analyser(Protocol):
    """Turns a batch of frames into one value per sample for each of its ``columns``."""

    name: str
    columns: tuple[str, ...]

    def __call__(self, batch: FrameBatch, ctx: AnalysisContext) -> dict[str, np.ndarray]: ...


def run_analysers(
    batch: FrameBatch, ctx: AnalysisContext, analysers: list[Analyser]
) -> dict[str, np.ndarray]:
    """Apply each analyser to the same batch; each must return one value per sample."""
    out: dict[str, np.ndarray] = {}
    for analyser in analysers:
        values = analyser(batch, ctx)
        for column in analyser.columns:
            if column not in values or len(values[column]) != len(batch):
                raise ValueError(f"analyser {analyser.name} did not fill column {column}")
            out[column] = values[column]
    return out


# Every analyser ("module:Class"), in the order a task runs them. Which of them a run needs
# follows from the checks it performs: those whose columns the checks read or write
# (:func:`pipeline.checks.registry.analysers_for`).
ANALYSERS: tuple[str, ...] = (
    "pipeline.signals.picture:PictureSignals",
    "pipeline.signals.fingerprint:FingerprintSignals",
    "pipeline.signals.view:ViewSignals",
    "pipeline.signals.clock:ClockSignals",
    "pipeline.signals.people:PeopleSignals",
    "pipeline.signals.station:StationSignals",
)


@cache
def analyser_classes() -> tuple[type, ...]:
    """The classes of :data:`ANALYSERS`, imported once."""
    out = []
    for spec in ANALYSERS:
        module, _, attr = spec.partition(":")
        out.append(getattr(import_module(module), attr))
    return tuple(out)


def analysers_filling(columns: Iterable[str]) -> list[Analyser]:
    """One new instance of each analyser that fills any of ``columns`` (instances keep
    per-task state, so each task gets its own)."""
    wanted = set(columns)
    return [cls() for cls in analyser_classes() if wanted & set(cls.columns)]
