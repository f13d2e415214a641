"""Spreadsheet and CSV layout shared by ``export`` and ``summary``: frozen header row, filters,
column widths, real Excel dates in the site's local time, relative links to clips.

openpyxl writes naive datetimes only, so every time is converted to the site's zone first
and the zone is named in the column header; Parquet keeps UTC.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from pipeline.evidence import atomic_write_bytes

DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="305496")
GROUP_FONT = Font(bold=True)
GROUP_FILL = PatternFill("solid", fgColor="D9E1F2")


@dataclass(frozen=True)
class Column:
    """A column: its header per language, width in characters, and how to show the value."""

    zh: str
    en: str
    width: float = 12
    kind: str = "text"  # text | date | number | link | percent

    def header(self, lang: str, tz: ZoneInfo | None = None) -> str:
        name = self.zh if lang == "zh" else self.en
        return f"{name} ({tz.key})" if self.kind == "date" and tz is not None else name


@dataclass(frozen=True)
class Link:
    """A relative hyperlink target and the text shown."""

    target: str
    text: str


def local(t: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A UTC timestamp as the naive local time Excel shows."""
    return None if t is None else t.astimezone(tz).replace(tzinfo=None)


def relative_link(evidence_dir: Path, path: str | None, out_file: Path) -> Link | None:
    """A link from the written file's folder to ``evidence_dir/path`` (portable when the
    spreadsheet travels with the evidence folder)."""
    if not path:
        return None
    target = os.path.relpath(Path(evidence_dir).resolve() / path, out_file.resolve().parent)
    return Link(Path(target).as_posix(), Path(path).name)


def write_sheet(
    ws: Worksheet,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Any] | str],
    lang: str,
    tz: ZoneInfo | None,
) -> None:
    """Header, then rows; a plain string row is a group header spanning every column."""
    ws.append([c.header(lang, tz) for c in columns])
    for cell in ws[1]:
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    for values in rows:
        r = ws.max_row + 1
        if isinstance(values, str):
            ws.cell(row=r, column=1, value=values).font = GROUP_FONT
            for c in range(1, len(columns) + 1):
                ws.cell(row=r, column=c).fill = GROUP_FILL
            ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=len(columns))
            continue
        for c, (col, value) in enumerate(zip(columns, values, strict=True), start=1):
            cell = ws.cell(row=r, column=c)
            if isinstance(value, Link):
                cell.value, cell.hyperlink, cell.style = value.text, value.target, "Hyperlink"
                continue
            cell.value = value
            if col.kind == "date" and value is not None:
                cell.number_format = DATE_FORMAT
            elif col.kind == "percent" and value is not None:
                cell.number_format = "0.0%"
            elif col.kind == "number" and isinstance(value, float):
                cell.number_format = "0.0"
    for c, col in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(c)].width = col.width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(ws.max_row, 1)}"


def new_workbook() -> Workbook:
    wb = Workbook()
    wb.remove(wb.active)
    return wb


def save_workbook(wb: Workbook, path: Path) -> Path:
    """Write atomically: a reader never sees a half-written spreadsheet."""
    buf = io.BytesIO()
    wb.save(buf)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path


def write_csv(
    path: Path,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Any]],
    lang: str,
    tz: ZoneInfo | None,
) -> Path:
    """UTF-8 with BOM so that Excel opens the Chinese headers correctly; dates as local text."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([c.header(lang, tz) for c in columns])
    for values in rows:
        out = []
        for value in values:
            if isinstance(value, Link):
                value = value.target
            elif isinstance(value, datetime):
                value = value.strftime("%Y-%m-%d %H:%M:%S")
            out.append("" if value is None else value)
        writer.writerow(out)
    path = Path(path)
    atomic_write_bytes(path, ("\ufeff" + buf.getvalue()).encode("utf-8"))
    return path
