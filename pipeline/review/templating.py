"""The Jinja environments of the HTML pages: one per templates folder and process, with the
compiled templates kept between runs.

Jinja compiles a template (lexes, parses, generates and compiles Python) on first use in an
environment: for the report's three templates 0.12 s, twice the time of rendering them, in the
tail of every scan, where nothing else runs. An environment made once per process keeps its
templates; Jinja's bytecode cache keeps the compiled code for the next process (a private
folder in the temp directory, keyed by each template's checksum and the Python version, so a
changed template or interpreter compiles afresh). A cache that cannot be read or written costs
only the speed-up, never the page.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import jinja2

log = logging.getLogger(__name__)


class _Bytecode(jinja2.FileSystemBytecodeCache):
    """Jinja's file cache, whose input and output errors are not the page's."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except OSError as exc:
            log.debug("template cache not read (%s)", exc)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError as exc:
            log.debug("template cache not written (%s)", exc)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    try:
        return _Bytecode()  # makes (or checks) its private folder in the temp directory
    except (OSError, RuntimeError) as exc:
        log.debug("no template cache (%s)", exc)
        return None


@cache
def environment(folder: Path) -> jinja2.Environment:
    """The pages' environment for ``folder``: every template autoescaped (they are all HTML),
    strict about undefined names, block tags trimmed."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=_bytecode_cache(),
    )
