"""Finders: turn a session's timeline into findings with hysteresis and minimum durations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa

from pipeline.inputs.config import Camera, Site
from pipeline.records import Event, ExamSession, FileProbe

if TYPE_CHECKING:
    from pipeline.findings.usual_view import CameraViews


@dataclass(frozen=True)
class SessionContext:
    """A session with its camera config, site rules and the probes of its files."""

    session: ExamSession
    camera: Camera
    site: Site
    probes: tuple[FileProbe, ...]
    # the camera's reference views over the batch (findings/usual_view.py); None: the
    # session's own majority view
    views: CameraViews | None = None


class Finder(Protocol):
    """A pure function of one session's timeline (rows sorted by ``t``) -> findings."""

    name: str

    def __call__(self, timeline: pa.Table, ctx: SessionContext) -> list[Event]: ...
