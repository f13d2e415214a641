"""Errors that name the input and the place in it, so a user can fix the file."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """An input file (config, schedule, manifest) is invalid.

    ``where`` is a line (``line 4``) or a key (``rules.min_fps``); the CLI exits 2.
    """

    def __init__(self, path: Path | str, where: str | None, reason: str) -> None:
        self.path = Path(path)
        self.where = where
        self.reason = reason
        loc = f"{self.path}" + (f", {where}" if where else "")
        super().__init__(f"{loc}: {reason}")


class RecordingError(Exception):
    """A recording cannot be read; it becomes a ``file_unreadable`` finding, never a crash."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class EvidenceWriteError(Exception):
    """The evidence folder cannot be written; earlier evidence is left as it was."""
