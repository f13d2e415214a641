"""The typed core of a check: its settings, the kinds it emits, what it finds, one base class.

A check is one class in one module of :mod:`pipeline.checks` (PySceneDetect's detector
classes, Frigate's detector plugins): it declares the event kinds it emits with their labels,
the timeline columns it reads and writes, its ``[rules]`` settings in site.toml, and turns
one scope (a file, a session, the whole batch) into :class:`Candidate` findings. The registry
(:mod:`pipeline.checks.registry`) finds the classes, validates the declarations and turns
candidates into :class:`~pipeline.records.Event` rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    import pyarrow as pa

    from pipeline.findings import SessionContext
    from pipeline.inputs.config import Site
    from pipeline.records import Event, FileProbe

Scope = Literal["file", "session", "batch"]
Group = Literal["coverage", "integrity", "people"]  # what ``scan --checks`` selects


@dataclass(frozen=True)
class Setting:
    """One ``[rules]`` key of site.toml: typed, with a default, an allowed range and a unit."""

    name: str
    type: type  # float, int, str or tuple (a list of strings in TOML)
    default: Any
    unit: str = ""
    min: float | None = None
    max: float | None = None
    zh: str = ""  # one-line description, Chinese
    en: str = ""  # ... and English

    def allowed(self) -> str:
        """The allowed range in words, as error messages and ``examaudit checks`` show it."""
        if self.type is tuple:
            return "a list of strings"
        if self.type is str:
            return "a string"
        what = "a whole number" if self.type is int else "a number"
        unit = f" {self.unit}" if self.unit else ""
        if self.min is not None and self.max is not None:
            return f"{what} from {self.min:g} to {self.max:g}{unit}"
        if self.min is not None:
            return f"{what} >= {self.min:g}{unit}"
        if self.max is not None:
            return f"{what} <= {self.max:g}{unit}"
        return what

    def parse(self, value: Any) -> Any:
        """The TOML value as this setting's type; ValueError says what is wrong."""
        if self.type is tuple:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"must be {self.allowed()}, got {value!r}")
            return tuple(v.lower() for v in value)
        if self.type is str:
            if not isinstance(value, str):
                raise ValueError(f"must be {self.allowed()}, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be {self.allowed()}, got {value!r}")
        if self.type is int and not float(value).is_integer():
            raise ValueError(f"must be {self.allowed()}, got {value!r}")
        if (self.min is not None and value < self.min) or (
            self.max is not None and value > self.max
        ):
            raise ValueError(f"must be {self.allowed()}, got {value!r}")
        return int(value) if self.type is int else float(value)


@dataclass(frozen=True)
class KindSpec:
    """An event kind: its labels, its colour in the report, whether a clip can show it, and
    the campaign checklist item (二(二)3 plan, 4 Q&A, 5 invigilators, 6 recording/archive)."""

    kind: str
    zh: str
    en: str
    colour: str
    has_video: bool = True
    checklist: str = "6"
    people: bool = False  # thumbnails draw the detected persons


@dataclass(frozen=True)
class Candidate:
    """One finding as a check reports it; the registry adds the session, camera and id.

    ``kind`` is needed only by a check with more than one kind; ``session_id``/``camera_id``
    only by a batch check (its findings belong to different sessions).
    """

    start: datetime
    end: datetime
    confidence: float = 1.0
    details: Mapping[str, Any] = field(default_factory=dict)
    kind: str | None = None
    source_file: str | None = None
    session_id: str | None = None
    camera_id: str | None = None

    @classmethod
    def of(cls, event: Event) -> Candidate:
        """A finder's event as a candidate (the checks that wrap the older finders)."""
        return cls(
            start=event.start,
            end=event.end,
            confidence=event.confidence,
            details=event.details,
            kind=event.kind,
            source_file=event.source_file,
            session_id=event.session_id,
            camera_id=event.camera_id,
        )


@dataclass(frozen=True)
class Inputs:
    """What a check's ``find`` sees. Session scope: ``timeline`` is the session's (sorted by
    ``t``) and ``ctx`` its context; file scope: ``probe``; batch scope: the whole timeline and
    every ``contexts``. ``used`` holds, per check named in ``uses``, its candidates for the
    same scope, computed once."""

    site: Site
    timeline: pa.Table | None = None
    ctx: SessionContext | None = None
    probe: FileProbe | None = None
    contexts: Sequence[SessionContext] = ()
    # batch scope: timeline rows outside every scheduled session (coarse; people only)
    outside: pa.Table | None = None
    used: Mapping[str, Sequence[Candidate]] = field(default_factory=dict)


class Check:
    """Base class of every check; a subclass in a module of :mod:`pipeline.checks` is found
    and registered automatically. Override ``find``; ``refine`` is optional."""

    name: ClassVar[str]
    group: ClassVar[Group] = "integrity"
    scope: ClassVar[Scope] = "session"
    order: ClassVar[int] = 100  # place in listings and the report's lanes
    kinds: ClassVar[tuple[KindSpec, ...]] = ()
    needs: ClassVar[tuple[str, ...]] = ()  # timeline columns it reads
    writes: ClassVar[tuple[str, ...]] = ()  # timeline columns its analysers write
    settings: ClassVar[tuple[Setting, ...]] = ()
    uses: ClassVar[tuple[str, ...]] = ()  # checks whose candidates it needs (same scope)
    zh: ClassVar[str] = ""  # one line: what it checks
    en: ClassVar[str] = ""

    def find(self, inputs: Inputs) -> list[Candidate]:
        raise NotImplementedError

    def refine(
        self, events: list[Event], probes: Mapping[str, FileProbe], site: Site
    ) -> list[Event]:
        """Place this check's own boundaries from decoded frames (default: as found)."""
        return events


class FinderCheck(Check):
    """A session check whose logic is a finder ``(timeline, ctx) -> [Event]`` elsewhere
    (``finder`` = "module:Class"); its events are handed on as candidates."""

    finder: ClassVar[str]

    def find(self, inputs: Inputs) -> list[Candidate]:
        import importlib

        module, _, attr = self.finder.partition(":")
        finder = getattr(importlib.import_module(module), attr)()
        return [Candidate.of(e) for e in finder(inputs.timeline, inputs.ctx)]


class FrameRefined(Check):
    """Boundaries placed by decoding the frames around them (:mod:`pipeline.refine`)."""

    def refine(
        self, events: list[Event], probes: Mapping[str, FileProbe], site: Site
    ) -> list[Event]:
        from pipeline.refine import refine_events

        return refine_events(events, probes, site)
