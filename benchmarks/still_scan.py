"""A still-room recording through the real stages, and its frozen findings scored.

probe -> plan_chunks -> sample_chunk -> picture analysers -> timeline
(:func:`pipeline.checks.runner.analyse_files`) -> FrozenVideoFinder -> refine_events, as a
scan runs them; shared by ``tests/test_still_rooms.py`` and
``benchmarks/bench_still.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.stillroom import CLOCK_REGION, Room, encode
from pipeline.checks.runner import analyse_files
from pipeline.findings.picture import BlackScreenFinder, FrozenVideoFinder
from pipeline.inputs.config import Analysis, Camera, Rules, Site
from pipeline.records import Event
from pipeline.refine import refine_events
from pipeline.signals.picture import PictureSignals

T0 = datetime(2022, 3, 15, 0, 30, tzinfo=UTC)


def site_for(clock: bool, sample_every_s: float = 2.0) -> Site:
    camera = Camera("cam", clock_region=CLOCK_REGION if clock else None)
    return Site(
        rules=Rules(),
        analysis=Analysis(sample_every_s=sample_every_s, width=320, chunk_s=300.0),
        cameras={"cam": camera},
    )


@dataclass(frozen=True)
class Score:
    room: Room
    frozen: list[tuple[float, float]]  # found (file seconds)
    black: list[tuple[float, float]]

    @property
    def expected(self) -> int:
        return 0 if self.room.frozen is None else 1

    @property
    def found(self) -> int:
        """Found frozen stretches that match the injected one within +-2 s."""
        if self.room.frozen is None:
            return 0
        a, b = self.room.frozen
        return sum(abs(x - a) <= 2 and abs(y - b) <= 2 for x, y in self.frozen)

    @property
    def false_s(self) -> float:
        """Frozen seconds found outside the injected stretch (+-2 s)."""
        lo, hi = (self.room.frozen[0] - 2, self.room.frozen[1] + 2) if self.room.frozen else (0, 0)
        return sum(max(0.0, b - a) - max(0.0, min(b, hi) - max(a, lo)) for a, b in self.frozen)

    @property
    def ok(self) -> bool:
        return self.found == self.expected and self.false_s == 0 and not self.black


def scan_room(
    room: Room, folder: Path, *, clock: bool | None = None, rules: Rules | None = None
) -> Score:
    """Encode ``room`` into ``folder`` and find its frozen (and black) stretches (``rules``:
    the site's ``[rules]``, default the declared defaults)."""
    path = encode(room, folder / f"{abs(hash(room)):x}.mp4")
    site = site_for(room.clock or room.freeze == "clock" if clock is None else clock)
    site = replace(site, rules=rules or site.rules)
    timeline, contexts, probes = analyse_files([(path, "cam", "S", T0)], site, [PictureSignals()])
    sctx = contexts[0]
    events: list[Event] = FrozenVideoFinder()(timeline, sctx) + BlackScreenFinder()(timeline, sctx)
    events = refine_events(events, probes, site)

    def spans(kind: str) -> list[tuple[float, float]]:
        return [
            ((e.start - T0).total_seconds(), (e.end - T0).total_seconds())
            for e in events
            if e.kind == kind
        ]

    return Score(room, spans("frozen_video"), spans("black_screen"))
