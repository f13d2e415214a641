"""The registry: every :class:`~pipeline.checks.base.Check` subclass in the modules of
:mod:`pipeline.checks`, found by importing them (no list to keep), validated once.

Validation at registration: unique check names, kinds and setting names; timeline columns a
check needs or writes exist in :data:`pipeline.schemas.TIMELINE`; ``uses`` names checks of the
same scope without cycles; each setting's default lies in its own range and equals the
:class:`pipeline.inputs.config.Rules` default where that class still carries the key.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Mapping
from dataclasses import MISSING, fields
from functools import cache
from pathlib import Path
from typing import Any

from pipeline.checks.base import Candidate, Check, Inputs, KindSpec, Setting

GROUPS: tuple[str, ...] = ("coverage", "integrity", "people")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class RegistryError(Exception):
    """A check declares something inconsistent (a programming error, found at import)."""


def _discover() -> list[type[Check]]:
    import pipeline.checks as package

    found: list[type[Check]] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Check)
                and value is not Check
                and value.__module__ == module.__name__
                and "name" in vars(value)
            ):
                found.append(value)
    return found


def _validate(checks: list[Check]) -> None:
    from pipeline import schemas
    from pipeline.inputs.config import Rules

    columns = set(schemas.TIMELINE.names)
    legacy = {f.name: f.default for f in fields(Rules) if f.default is not MISSING}
    names: dict[str, Check] = {}
    kinds: dict[str, str] = {}
    settings: dict[str, str] = {}
    for c in checks:
        where = f"check {c.name!r} ({type(c).__module__})"
        if c.name in names:
            raise RegistryError(f"{where}: name already used by {type(names[c.name]).__module__}")
        names[c.name] = c
        if c.group not in GROUPS or c.scope not in ("file", "session", "batch"):
            raise RegistryError(f"{where}: bad group {c.group!r} or scope {c.scope!r}")
        if not c.kinds:
            raise RegistryError(f"{where}: declares no event kind")
        for k in c.kinds:
            if k.kind in kinds:
                raise RegistryError(f"{where}: kind {k.kind!r} already emitted by {kinds[k.kind]}")
            if not _COLOUR.match(k.colour) or not k.zh or not k.en:
                raise RegistryError(f"{where}: kind {k.kind!r} needs zh/en labels and #rrggbb")
            kinds[k.kind] = c.name
        for col in (*c.needs, *c.writes):
            if col not in columns:
                raise RegistryError(f"{where}: timeline column {col!r} not in schemas.TIMELINE")
        for s in c.settings:
            if s.name in settings:
                raise RegistryError(f"{where}: setting {s.name!r} already in {settings[s.name]}")
            settings[s.name] = c.name
            if not s.zh or not s.en:
                raise RegistryError(f"{where}: setting {s.name!r} needs zh/en descriptions")
            try:
                s.parse(list(s.default) if s.type is tuple else s.default)
            except ValueError as exc:
                raise RegistryError(f"{where}: default of {s.name!r} {exc}") from None
            if s.name in legacy and legacy[s.name] != s.default:
                raise RegistryError(f"{where}: {s.name!r} default differs from config.Rules")
    for c in checks:
        for u in c.uses:
            if u not in names or names[u].scope != c.scope:
                raise RegistryError(f"check {c.name!r} uses {u!r}: no such {c.scope} check")
    _ordered(checks)  # raises on a cycle


def _ordered(checks: list[Check]) -> list[Check]:
    """``checks`` with every check after those it uses (stable otherwise)."""
    by_name = {c.name: c for c in checks}
    out: list[Check] = []
    state: dict[str, int] = {}

    def visit(c: Check) -> None:
        if state.get(c.name) == 2:
            return
        if state.get(c.name) == 1:
            raise RegistryError(f"check {c.name!r}: cycle in uses")
        state[c.name] = 1
        for u in c.uses:
            if u in by_name:
                visit(by_name[u])
        state[c.name] = 2
        out.append(c)

    for c in checks:
        visit(c)
    return out


@cache
def all_checks() -> tuple[Check, ...]:
    """Every registered check, in listing order (``order``, then name)."""
    checks = sorted((cls() for cls in _discover()), key=lambda c: (c.order, c.name))
    _validate(checks)
    return tuple(checks)


def parse_checks(value: str | None) -> tuple[str, ...]:
    """``--checks coverage,integrity`` -> validated tuple of groups; coverage always runs."""
    if not value or value == "all":
        return GROUPS
    wanted = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in wanted if v not in GROUPS]
    if unknown:
        raise ValueError(f"unknown check(s) {unknown}; choose from {', '.join(GROUPS)}")
    return tuple(g for g in GROUPS if g in wanted or g == "coverage")


def analysers_for(groups: tuple[str, ...]) -> list[Any]:
    """New instances of the analysers that fill the timeline columns the checks of these
    groups read or write (a check a selected one only uses brings no analyser: without its
    columns it finds nothing, as before)."""
    from pipeline.signals import analysers_filling

    selected = [c for c in all_checks() if c.group in groups]
    return analysers_filling(col for c in selected for col in (*c.needs, *c.writes))


def get(name: str) -> Check:
    for c in all_checks():
        if c.name == name:
            return c
    raise KeyError(name)


def for_groups(groups: tuple[str, ...], scope: str) -> list[Check]:
    """The checks of ``scope`` that a run with these ``--checks`` groups performs, each after
    the checks it uses (a used check runs even when its own group was not asked for)."""
    wanted = [c for c in all_checks() if c.scope == scope and c.group in groups]
    names = {c.name for c in wanted}
    todo = list(wanted)
    while todo:
        for u in todo.pop().uses:
            if u not in names:
                names.add(u)
                todo.append(get(u))
    return _ordered([c for c in all_checks() if c.name in names])


@cache
def kinds() -> dict[str, KindSpec]:
    """Every event kind the checks emit, in listing order."""
    return {k.kind: k for c in all_checks() for k in c.kinds}


def kind(name: str) -> KindSpec:
    """The kind's spec; a kind no check declares (yet) gets its own name and grey."""
    return kinds().get(name) or KindSpec(name, name, name, "#000000")


@cache
def settings() -> dict[str, tuple[Setting, str]]:
    """``[rules]`` key -> (setting, name of the check that owns it)."""
    return {s.name: (s, c.name) for c in all_checks() for s in c.settings}


def parse_rules(path: Path, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validate site.toml's ``[rules]`` against the registered settings (and the keys
    :class:`pipeline.inputs.config.Rules` still carries undeclared); InputError names the key
    and the allowed range."""
    from pipeline.errors import InputError
    from pipeline.inputs.config import Rules

    declared = settings()
    legacy = {
        f.name: Setting(f.name, type(f.default), f.default, zh="", en="")
        for f in fields(Rules)
        if f.default is not MISSING and f.name not in declared and f.name != "extra"
    }
    values: dict[str, Any] = {}
    for key, value in raw.items():
        full = f"rules.{key}"
        if key in declared:
            setting, owner = declared[key]
        elif key in legacy:
            setting, owner = legacy[key], None
        else:
            known = ", ".join(sorted({*declared, *legacy}))
            raise InputError(path, full, f"unknown key (known: {known})")
        try:
            values[key] = setting.parse(value)
        except ValueError as exc:
            why = f" ({owner} check: {setting.en})" if owner else ""
            raise InputError(path, full, f"{exc}{why}") from None
    return values


def to_event(check: Check, cand: Candidate, inputs: Inputs):
    """The finding as an evidence row: the candidate plus the scope's session and camera."""
    from pipeline.records import Event

    session = inputs.ctx.session if inputs.ctx is not None else None
    camera = cand.camera_id
    if camera is None:
        camera = session.camera_id if session else inputs.probe.camera_id if inputs.probe else None
    return Event(
        kind=cand.kind or check.kinds[0].kind,
        camera_id=camera,
        start=cand.start,
        end=cand.end,
        session_id=cand.session_id or (session.session_id if session else None),
        confidence=cand.confidence,
        details=cand.details,
        source_file=cand.source_file,
    )
