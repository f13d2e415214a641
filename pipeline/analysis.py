"""The analysis registry: which analysers fill the timeline and which finders read it.

Scan calls three functions from here; analysers and finders live in :mod:`pipeline.signals`
and :mod:`pipeline.findings`, one module per concern. Checks are grouped so a run can ask for
``coverage`` only (packet-level, no decoding) or add ``integrity`` and ``people``.
"""

from __future__ import annotations

from importlib import import_module

CHECKS: tuple[str, ...] = ("coverage", "integrity", "people")

# check -> "module:attribute" of analyser classes (instantiated once per task)
ANALYSERS: dict[str, tuple[str, ...]] = {
    "integrity": (
        "pipeline.signals.picture:PictureSignals",
        "pipeline.signals.fingerprint:FingerprintSignals",
        "pipeline.signals.view:ViewSignals",
        "pipeline.signals.clock:ClockSignals",
    ),
    "people": (
        "pipeline.signals.people:PeopleSignals",
        "pipeline.signals.station:StationSignals",
    ),
}

# check -> "module:attribute" of per-session finders
FINDERS: dict[str, tuple[str, ...]] = {
    "coverage": ("pipeline.findings.coverage:CoverageFinder",),
    "integrity": (
        "pipeline.findings.picture:BlackScreenFinder",
        "pipeline.findings.picture:FrozenVideoFinder",
        "pipeline.findings.view:ViewChangedFinder",
        "pipeline.findings.clock:ClockJumpFinder",
    ),
    "people": (
        "pipeline.findings.people:ProctorAbsenceFinder",
        "pipeline.findings.people:QaSubstitutionFinder",
    ),
}


def load(spec: str) -> object:
    module, _, attr = spec.partition(":")
    return getattr(import_module(module), attr)


def parse_checks(value: str | None) -> tuple[str, ...]:
    """``--checks coverage,integrity`` -> validated tuple; coverage is always included."""
    if not value or value == "all":
        return CHECKS
    wanted = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in wanted if v not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check(s) {unknown}; choose from {', '.join(CHECKS)}")
    return tuple(c for c in CHECKS if c in wanted or c == "coverage")


def analysers_for(checks: tuple[str, ...]) -> list[object]:
    return [load(spec)() for check in checks for spec in ANALYSERS.get(check, ())]
