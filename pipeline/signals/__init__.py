"""Analysers: small, independent, pure functions of sampled frames -> timeline columns.

Every analyser reads the same :class:`~pipeline.media.frames.FrameBatch`; adding one adds no
decoding. Column names and types are declared in :mod:`pipeline.schemas` (TIMELINE).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
