"""``examaudit summary``: one roll-up across many evidence folders — Parquet tables, a
self-contained zh/en page with charts, and optionally a spreadsheet."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pipeline import evidence as store
from pipeline.inspectorate.checklist import ITEMS
from pipeline.inspectorate.rollup import Rollup, rollup
from pipeline.inspectorate.workbook import (
    Column,
    local,
    new_workbook,
    save_workbook,
    write_sheet,
)
from pipeline.review import templating

TEMPLATES = Path(__file__).resolve().parents[1] / "review" / "templates"
ITEM_COLOURS = {
    "二(二)3": "#0891b2",
    "二(二)4": "#2563eb",
    "二(二)5": "#d97706",
    "二(二)6": "#dc2626",
    "其他": "#64748b",
}

MONTH_COLUMNS: tuple[Column, ...] = (
    Column("考点", "Centre", 10),
    Column("月份", "Month", 9),
    Column("场次数", "Sessions", 9, "number"),
    Column("存疑场次", "Flagged", 9, "number"),
    Column("无录像场次", "Missing", 10, "number"),
    Column("计划时长（小时）", "Scheduled h", 12, "number"),
    Column("录像时长（小时）", "Recorded h", 12, "number"),
    Column("问题数", "Findings", 9, "number"),
    Column("每10考试小时问题数", "Findings per 10 h", 14, "number"),
    Column("已复核", "Reviewed", 9, "number"),
    Column("复核比例", "Share reviewed", 10, "percent"),
    Column("证据目录", "Evidence folder", 40),
)
ITEM_COLUMNS: tuple[Column, ...] = (
    Column("考点", "Centre", 10),
    Column("月份", "Month", 9),
    Column("检查项", "Checklist item", 10),
    Column("问题数", "Findings", 9, "number"),
    Column("每10考试小时问题数", "Findings per 10 h", 14, "number"),
)
WORST_COLUMNS: tuple[Column, ...] = (
    Column("考点", "Centre", 10),
    Column("考场", "Room", 10),
    Column("场次", "Session", 10),
    Column("考试类型", "Exam type", 10),
    Column("计划开始（当地时间）", "Scheduled start (local)", 21, "date"),
    Column("录像覆盖率", "Coverage", 10, "percent"),
    Column("结论", "Verdict", 8),
    Column("问题数", "Findings", 8, "number"),
    Column("问题时长（秒）", "Finding s", 12, "number"),
    Column("证据目录", "Evidence folder", 40),
)


def _month_rows(r: Rollup) -> list[list[Any]]:
    return [
        [
            m["centre_id"],
            m["month"],
            m["sessions"],
            m["sessions_flagged"],
            m["sessions_missing"],
            m["scheduled_h"],
            m["recorded_h"],
            m["findings"],
            m["findings_per_10h"],
            m["reviewed"],
            m["reviewed_share"],
            m["evidence"],
        ]
        for m in r.months.to_pylist()
    ]


def _item_rows(r: Rollup) -> list[list[Any]]:
    return [
        [i["centre_id"], i["month"], i["item"], i["findings"], i["findings_per_10h"]]
        for i in r.items.to_pylist()
    ]


def _worst_rows(r: Rollup) -> list[list[Any]]:
    tz = {f["evidence"]: ZoneInfo(f["tz"]) for f in r.folders.to_pylist()}
    return [
        [
            w["centre_id"],
            w["room_id"],
            w["session_id"],
            w["exam_type"],
            local(w["scheduled_start"], tz[w["evidence"]]),
            w["coverage"],
            w["verdict"],
            w["findings"],
            w["finding_s"],
            w["evidence"],
        ]
        for w in r.worst.to_pylist()
    ]


def totals(r: Rollup) -> dict[str, Any]:
    months = r.months.to_pylist()
    total = {
        k: sum(m[k] for m in months)
        for k in (
            "sessions",
            "sessions_flagged",
            "sessions_missing",
            "scheduled_h",
            "recorded_h",
            "findings",
            "reviewed",
            "confirmed",
        )
    }
    total["folders"] = r.folders.num_rows
    total["centres"] = len({m["centre_id"] for m in months})
    total["no_plan"] = sum(r.folders["no_schedule"].to_pylist())
    return total


def _chart(r: Rollup) -> list[dict[str, Any]]:
    """Per centre: findings per 10 scheduled exam hours, stacked by checklist item."""
    hours: dict[str, float] = {}
    for m in r.months.to_pylist():
        hours[m["centre_id"]] = hours.get(m["centre_id"], 0.0) + m["scheduled_h"]
    per: dict[str, dict[str, int]] = {}
    for i in r.items.to_pylist():
        per.setdefault(i["centre_id"], {}).setdefault(i["item"], 0)
        per[i["centre_id"]][i["item"]] += i["findings"]
    rates = {
        c: {k: 10 * n / hours[c] if hours[c] else 0.0 for k, n in v.items()} for c, v in per.items()
    }
    top = max((sum(v.values()) for v in rates.values()), default=0.0) or 1.0
    bars = []
    for centre in sorted(rates):
        x = 0.0
        parts = []
        for item in ITEMS:
            w = 100 * rates[centre].get(item.code, 0.0) / top
            if w > 0:
                parts.append(
                    {
                        "x": x,
                        "w": w,
                        "colour": ITEM_COLOURS[item.code],
                        "item": item.code,
                        "rate": rates[centre][item.code],
                    }
                )
            x += w
        bars.append(
            {
                "centre": centre,
                "parts": parts,
                "rate": sum(rates[centre].values()),
                "scheduled_h": hours[centre],
                "recorded_h": sum(
                    m["recorded_h"] for m in r.months.to_pylist() if m["centre_id"] == centre
                ),
            }
        )
    return bars


def render_summary(r: Rollup, lang: str = "zh") -> str:
    env = templating.environment(TEMPLATES)
    tzs = {f["evidence"]: f["tz"] for f in r.folders.to_pylist()}
    return env.get_template("summary.html.j2").render(
        lang=lang,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        totals=totals(r),
        months=r.months.to_pylist(),
        items=ITEMS,
        item_colours=ITEM_COLOURS,
        item_rows=r.items.to_pylist(),
        worst=[
            {**w, "start": local(w["scheduled_start"], ZoneInfo(tzs[w["evidence"]]))}
            for w in r.worst.to_pylist()
        ],
        chart=_chart(r),
        folders=r.folders.to_pylist(),
    )


def write_summary(
    evidence: Sequence[Path], out: Path, *, xlsx: Path | None = None, lang: str = "zh"
) -> Rollup:
    """Write ``out/summary_{months,items,worst}.parquet`` and ``out/index.html`` (+ XLSX)."""
    r = rollup(evidence)
    out = Path(out)
    store.check_writable(out)
    files = {
        out / "summary_months.parquet": store.table_bytes(r.months),
        out / "summary_items.parquet": store.table_bytes(r.items),
        out / "summary_worst.parquet": store.table_bytes(r.worst),
        out / "index.html": render_summary(r, lang).encode("utf-8"),
    }
    store.commit_files(files)
    if xlsx is not None:
        wb = new_workbook()
        for title, columns, rows in (
            (("按考点月份", "By centre and month"), MONTH_COLUMNS, _month_rows(r)),
            (("按检查项", "By checklist item"), ITEM_COLUMNS, _item_rows(r)),
            (("问题最多场次", "Worst sessions"), WORST_COLUMNS, _worst_rows(r)),
        ):
            write_sheet(
                wb.create_sheet(title[0] if lang == "zh" else title[1]), columns, rows, lang, None
            )
        save_workbook(wb, xlsx)
    return r
