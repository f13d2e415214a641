"""The campaign checklist items for exam centres (晋应急发〔2021〕330号, 检查表 二(二)) that
ExamAudit's findings answer, and which item each finding belongs to.

Self-inspection reports and the bureaus' inspections are filed per checklist item, so every
finding must land under exactly one item; a kind no item claims (a check added later) lands
under "other" rather than being dropped. Which item a kind belongs to is declared by its
check (``KindSpec.checklist``), so a new check needs nothing here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
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

# the checklist digit a check declares for each of its kinds (KindSpec.checklist) -> item
_BY_CODE: dict[str, ChecklistItem] = {"3": PLAN, "4": QA, "5": STAFF, "6": RECORDING}
# rows that are no check's finding: a scan without an exam plan (problems.py)
_NOT_FOUND_BY_A_CHECK: dict[str, ChecklistItem] = {"no_exam_plan": PLAN}


@cache
def kind_items() -> dict[str, ChecklistItem]:
    """kind -> item, from the registry's kinds (recording_gap is split by cause, item_of)."""
    from pipeline.checks.registry import kinds

    items = {k: _BY_CODE.get(spec.checklist, OTHER) for k, spec in kinds().items()}
    return {**items, **_NOT_FOUND_BY_A_CHECK}


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
    return kind_items().get(kind, OTHER)
