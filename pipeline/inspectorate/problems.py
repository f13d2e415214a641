"""The problem list (问题清单) of one evidence folder: one row per finding, filed under the
campaign's checklist items, with the inspector's latest verdict.

Pure data: reading Parquet and the review log in, plain rows out; the spreadsheet, CSV and HTML
writers only lay these rows out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipeline.inspectorate.checklist import ITEMS, ChecklistItem, details_of, item_of
from pipeline.review import i18n
from pipeline.review.reviews import load_reviews, review_states

GAP_CAUSES: dict[str, tuple[str, str]] = {
    "late_start": ("开考后才开始录像", "recording started late"),
    "early_stop": ("考试结束前停止录像", "recording stopped early"),
    "between_files": ("录像文件之间中断", "between files"),
    "inside_file": ("录像文件内部时间跳变", "timestamp jump inside a file"),
    "unreadable": ("录像文件无法读取", "unreadable file"),
}


@dataclass(frozen=True)
class ProblemRow:
    """One finding as the inspectorate files it."""

    item: ChecklistItem
    event_id: str
    kind: str
    centre_id: str | None
    room_id: str | None
    session_id: str | None
    camera_id: str | None
    exam_type: str | None
    start: datetime | None  # UTC; writers show local time
    end: datetime | None
    duration_s: float | None
    confidence: float | None
    details: dict[str, Any]
    source_file: str | None
    clip: str | None  # relative to the evidence folder
    thumb: str | None
    review: str | None  # confirmed | dismissed | None
    reviewer: str | None
    review_note: str | None

    def finding(self, lang: str) -> str:
        """The finding in words: its kind and the one detail an inspector needs first."""
        return describe(self.kind, self.details, lang)


def kind_label(kind: str, lang: str) -> str:
    zh, en = i18n.KINDS.get(kind, (kind, kind.replace("_", " ")))
    return zh if lang == "zh" else en


def describe(kind: str, details: dict[str, Any], lang: str) -> str:
    zh = lang == "zh"
    label = kind_label(kind, lang)
    extra = ""
    if kind == "recording_gap" and details.get("cause") in GAP_CAUSES:
        extra = GAP_CAUSES[details["cause"]][0 if zh else 1]
    elif kind == "format_noncompliant" and details.get("problems"):
        extra = "; ".join(map(str, details["problems"]))
    elif kind == "clock_jump" and details.get("jump_s") is not None:
        extra = f"{'跳变' if zh else 'jump'} {float(details['jump_s']):+.0f} s"
    elif kind == "looped_footage" and details.get("matched_session"):
        extra = f"{'与场次' if zh else 'repeats session'} {details['matched_session']}"
        extra += " 画面相同" if zh else ""
    elif kind == "file_unreadable" and details.get("error"):
        extra = str(details["error"])
    elif kind == "no_exam_plan":
        extra = details.get("text", "")
    return f"{label}（{extra}）" if extra and zh else f"{label} ({extra})" if extra else label


def _table(evidence_dir: Path, name: str) -> list[dict[str, Any]]:
    path = evidence_dir / f"{name}.parquet"
    return pq.read_table(path).to_pylist() if path.exists() else []


def no_plan(evidence_dir: Path) -> bool:
    """True when the scan ran without an exam plan (``scan --no-schedule``)."""
    manifest = evidence_dir / "manifest.json"
    if not manifest.exists():
        return False
    inputs = json.loads(manifest.read_text(encoding="utf-8")).get("inputs") or {}
    return bool(inputs.get("no_schedule"))


def problem_rows(evidence_dir: Path) -> list[ProblemRow]:
    """Every finding of ``evidence_dir`` as a problem-list row, in checklist order, then time.

    File-level findings (no session) take the centre and room of their camera's sessions.
    A scan without an exam plan adds one ``no_exam_plan`` row under item 3.
    """
    evidence_dir = Path(evidence_dir)
    sessions = {s["session_id"]: s for s in _table(evidence_dir, "sessions")}
    by_camera: dict[str, dict[str, Any]] = {}
    for s in sessions.values():
        by_camera.setdefault(s["camera_id"], s)
    states = review_states(load_reviews(evidence_dir))
    rows: list[ProblemRow] = []
    for e in _table(evidence_dir, "events"):
        s = sessions.get(e["session_id"]) or by_camera.get(e["camera_id"]) or {}
        state = states.get(e["event_id"])
        details = details_of(e["details"])
        rows.append(
            ProblemRow(
                item=item_of(e["kind"], details),
                event_id=e["event_id"],
                kind=e["kind"],
                centre_id=s.get("centre_id"),
                room_id=s.get("room_id"),
                session_id=e["session_id"],
                camera_id=e["camera_id"],
                exam_type=sessions[e["session_id"]]["exam_type"]
                if e["session_id"] in sessions
                else None,
                start=e["start"],
                end=e["end"],
                duration_s=e["duration_s"],
                confidence=e["confidence"],
                details=details,
                source_file=e["source_file"],
                clip=e["clip"],
                thumb=e["thumb"],
                review=state.verdict if state else None,
                reviewer=state.reviewer if state else None,
                review_note="\n".join(n for n, _, _ in state.notes) if state else None,
            )
        )
    if no_plan(evidence_dir):
        any_session = next(iter(sessions.values()), {})
        rows.append(
            ProblemRow(
                item=item_of("no_exam_plan"),
                event_id="no_exam_plan",
                kind="no_exam_plan",
                centre_id=any_session.get("centre_id"),
                room_id=None,
                session_id=None,
                camera_id=None,
                exam_type=None,
                start=None,
                end=None,
                duration_s=None,
                confidence=None,
                details={"text": "未提供考试计划（schedule.csv），场次由录像推断"},
                source_file=None,
                clip=None,
                thumb=None,
                review=None,
                reviewer=None,
                review_note=None,
            )
        )
    order = {item.code: item.order for item in ITEMS}
    return sorted(
        rows,
        key=lambda r: (order[r.item.code], r.start is not None, r.start or 0, r.event_id),
    )


def grouped(rows: Sequence[ProblemRow]) -> list[tuple[ChecklistItem, list[ProblemRow]]]:
    """Rows per checklist item, every item present (an empty item is a clean answer too)."""
    return [(item, [r for r in rows if r.item == item]) for item in ITEMS]
