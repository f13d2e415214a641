"""``examaudit export``: the problem list (问题清单) of one evidence folder as a spreadsheet or
CSV, findings grouped under the campaign's checklist items, with empty columns for the
centre's corrective measures, deadline and person responsible (整改措施 / 整改时限 / 责任人)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.inspectorate.problems import ProblemRow, grouped, no_plan, problem_rows
from pipeline.inspectorate.workbook import (
    Column,
    local,
    new_workbook,
    relative_link,
    save_workbook,
    write_csv,
    write_sheet,
)
from pipeline.review import i18n
from pipeline.review.report import site_timezone

COLUMNS: tuple[Column, ...] = (
    Column("序号", "No.", 6, "number"),
    Column("检查项", "Checklist item", 10),
    Column("考点", "Centre", 10),
    Column("考场", "Room", 10),
    Column("场次", "Session", 10),
    Column("摄像头", "Camera", 10),
    Column("考试类型", "Exam type", 10),
    Column("开始时间", "Start", 21, "date"),
    Column("结束时间", "End", 21, "date"),
    Column("时长（秒）", "Duration (s)", 11, "number"),
    Column("问题", "Finding", 42),
    Column("置信度", "Confidence", 9, "percent"),
    Column("复核结论", "Review", 10),
    Column("复核人", "Reviewer", 10),
    Column("复核备注", "Review note", 30),
    Column("视频片段", "Clip", 30, "link"),
    Column("截图", "Thumbnail", 30, "link"),
    Column("整改措施", "Corrective measures", 30),
    Column("整改时限", "Deadline", 14),
    Column("责任人", "Person responsible", 12),
    Column("问题编号", "Finding ID", 30),
)
SHEETS = {"problems": ("问题清单", "Problem list"), "summary": ("汇总", "Summary")}
REVIEW_TEXT = {None: i18n.REVIEWS["unreviewed"], **{k: v for k, v in i18n.REVIEWS.items()}}


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "zh" else pair[1]


def _values(n: int, r: ProblemRow, evidence: Path, out: Path, tz: ZoneInfo, lang: str) -> list:
    exam = _pick(i18n.EXAM_TYPES[r.exam_type], lang) if r.exam_type in i18n.EXAM_TYPES else None
    return [
        n,
        r.item.code,
        r.centre_id,
        r.room_id,
        r.session_id,
        r.camera_id,
        exam,
        local(r.start, tz),
        local(r.end, tz),
        r.duration_s,
        r.finding(lang),
        r.confidence,
        _pick(REVIEW_TEXT[r.review], lang),
        r.reviewer,
        r.review_note,
        relative_link(evidence, r.clip, out),
        relative_link(evidence, r.thumb, out),
        None,
        None,
        None,
        r.event_id,
    ]


def _summary_rows(rows: list[ProblemRow], evidence: Path, tz: ZoneInfo, lang: str) -> list:
    zh = lang == "zh"
    out: list[Any] = [
        ("证据目录" if zh else "Evidence folder", str(evidence.resolve())),
        (
            "考点" if zh else "Centres",
            ", ".join(sorted({r.centre_id for r in rows if r.centre_id})),
        ),
        ("时区" if zh else "Time zone", tz.key),
        ("生成时间" if zh else "Generated", local(datetime.now(UTC), tz)),
        (
            "考试计划" if zh else "Exam plan",
            ("未提供" if zh else "none given")
            if no_plan(evidence)
            else ("已提供" if zh else "given"),
        ),
    ]
    return out


def item_counts(rows: list[ProblemRow]) -> list[dict[str, Any]]:
    """Per checklist item: findings, sessions affected, hours, and review progress."""
    out = []
    for item, part in grouped(rows):
        verdicts = Counter(r.review for r in part)
        out.append(
            {
                "item": item,
                "findings": len(part),
                "sessions": len({r.session_id for r in part if r.session_id}),
                "hours": sum(r.duration_s or 0.0 for r in part) / 3600,
                "confirmed": verdicts["confirmed"],
                "dismissed": verdicts["dismissed"],
                "unreviewed": verdicts[None],
            }
        )
    return out


ITEM_COLUMNS: tuple[Column, ...] = (
    Column("检查项", "Checklist item", 10),
    Column("检查内容", "Item", 48),
    Column("问题数", "Findings", 9, "number"),
    Column("涉及场次", "Sessions", 9, "number"),
    Column("时长（小时）", "Hours", 11, "number"),
    Column("已确认", "Confirmed", 9, "number"),
    Column("已排除", "Dismissed", 9, "number"),
    Column("未复核", "Unreviewed", 9, "number"),
)


def export_problem_list(
    evidence_dir: Path,
    *,
    xlsx: Path | None = None,
    csv_path: Path | None = None,
    lang: str = "zh",
) -> list[Path]:
    """Write the problem list as XLSX (summary + grouped list) and/or CSV (flat list)."""
    if lang not in ("zh", "en"):
        raise ValueError(f"--lang must be zh or en, got {lang!r}")
    evidence_dir = Path(evidence_dir)
    tz = site_timezone(evidence_dir)
    rows = problem_rows(evidence_dir)
    written: list[Path] = []
    if xlsx is not None:
        wb = new_workbook()
        summary = wb.create_sheet(_pick(SHEETS["summary"], lang))
        counts = item_counts(rows)
        write_sheet(
            summary,
            ITEM_COLUMNS,
            [
                [
                    c["item"].code,
                    _pick((c["item"].zh, c["item"].en), lang),
                    c["findings"],
                    c["sessions"],
                    c["hours"],
                    c["confirmed"],
                    c["dismissed"],
                    c["unreviewed"],
                ]
                for c in counts
            ],
            lang,
            None,
        )
        summary.append([])
        for key, value in _summary_rows(rows, evidence_dir, tz, lang):
            summary.append([key, value])
            if isinstance(value, datetime):
                summary.cell(row=summary.max_row, column=2).number_format = "yyyy-mm-dd hh:mm:ss"
        sheet = wb.create_sheet(_pick(SHEETS["problems"], lang))
        laid: list[Any] = []
        n = 0
        for item, part in grouped(rows):
            laid.append(
                f"{item.title(lang)}（{len(part)}）"
                if lang == "zh"
                else f"{item.title(lang)} ({len(part)})"
            )
            for r in part:
                n += 1
                laid.append(_values(n, r, evidence_dir, Path(xlsx), tz, lang))
        write_sheet(sheet, COLUMNS, laid, lang, tz)
        written.append(save_workbook(wb, Path(xlsx)))
    if csv_path is not None:
        flat = [
            _values(i, r, evidence_dir, Path(csv_path), tz, lang)
            for i, r in enumerate(rows, start=1)
        ]
        written.append(write_csv(Path(csv_path), COLUMNS, flat, lang, tz))
    return written
