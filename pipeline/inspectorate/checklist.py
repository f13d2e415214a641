"""The campaign checklist items for exam centres (晋应急发〔2021〕330号, 检查表 二(二)) that
ExamAudit's findings answer, and which item each finding belongs to.

Self-inspection reports and the bureaus' inspections are filed per checklist item, so every
finding must land under exactly one item; a kind no item claims (a check added later) lands
under "other" rather than being dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ChecklistItem:
    """One item of the checklist: its code as printed on the form and its wording."""

    code: str
    zh: str
    en: str
    order: int

    def title(self, lang: str) -> str:
        return f"{self.code} {self.zh if lang == 'zh' else self.en}"


PLAN = ChecklistItem(
    "二(二)3",
    "未按要求制定考试计划，未严格按照考试计划组织实施考试",
    "Exam plan not made or not followed",
    3,
)
QA = ChecklistItem(
    "二(二)4", "实际操作考试以口头问答代替", "Practical exam replaced by oral questions", 4
)
STAFF = ChecklistItem(
    "二(二)5",
    "未安排监考、考评人员或人员不足",
    "No or too few invigilators / examiners",
    5,
)
RECORDING = ChecklistItem(
    "二(二)6",
    "考试过程未全程录像或录像资料未存档、不真实",
    "Exam not recorded in full, or recordings not archived or not genuine",
    6,
)
OTHER = ChecklistItem("其他", "其他发现", "Other findings", 9)

ITEMS: tuple[ChecklistItem, ...] = (PLAN, QA, STAFF, RECORDING, OTHER)

# kind -> item; recording_gap is split by its cause (see item_of)
KIND_ITEMS: dict[str, ChecklistItem] = {
    "recording_missing": PLAN,
    "session_not_held": PLAN,
    "unscheduled_activity": PLAN,
    "candidate_count_mismatch": PLAN,
    "no_exam_plan": PLAN,
    "qa_substitution": QA,
    "proctor_absent": STAFF,
    "proctor_understaffed": STAFF,
    "recording_gap": RECORDING,
    "black_screen": RECORDING,
    "frozen_video": RECORDING,
    "view_changed": RECORDING,
    "looped_footage": RECORDING,
    "clock_jump": RECORDING,
    "format_noncompliant": RECORDING,
    "file_unreadable": RECORDING,
    "recording_too_short": RECORDING,
}

# recording gaps at a session's edges mean the exam did not run as planned (late start,
# early stop); gaps inside the session are a recording problem
PLAN_GAP_CAUSES = frozenset({"late_start", "early_stop"})


def details_of(details: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """A finding's details as a dict (events.parquet stores them as a JSON string)."""
    if details is None:
        return {}
    if isinstance(details, Mapping):
        return dict(details)
    try:
        value = json.loads(details)
    except ValueError:
        return {"text": details}
    return value if isinstance(value, dict) else {"value": value}


def item_of(kind: str, details: str | Mapping[str, Any] | None = None) -> ChecklistItem:
    """The checklist item a finding is filed under."""
    if kind == "recording_gap" and details_of(details).get("cause") in PLAN_GAP_CAUSES:
        return PLAN
    return KIND_ITEMS.get(kind, OTHER)
