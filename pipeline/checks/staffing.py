"""Too few invigilators: fewer people in the proctor zone than the schedule requires."""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import Candidate, Check, Inputs, KindSpec, Setting
from pipeline.checks.people import UNUSABLE, without_unusable


class Staffing(Check):
    name = "staffing"
    group = "people"
    order = 41
    zh = "监考（实操为考评员）区域内人数少于考试计划要求的监考人数"
    en = "Fewer people in the proctor zone (invigilators or examiners) than the plan requires"
    kinds: ClassVar = (
        KindSpec(
            "proctor_understaffed",
            "监考人员不足",
            "Too few proctors",
            "#a16207",
            checklist="5",
            people=True,
        ),
    )
    needs: ClassVar = ("persons_in_proctor_zone", "person_boxes", "source_file")
    writes: ClassVar = ("persons_in_proctor_zone", "person_boxes")
    uses: ClassVar = UNUSABLE
    settings: ClassVar = (
        Setting(
            "min_understaffed_s",
            float,
            300.0,
            "s",
            0,
            86400,
            zh="监考区人数少于计划监考人数（至少 2 人时）持续至少此时长才报告",
            en="Shortest stretch with fewer people in the proctor zone than proctors_required "
            "(two or more) reported",
        ),
    )

    def find(self, inputs: Inputs) -> list[Candidate]:
        from pipeline.findings.headcount import ProctorUnderstaffedFinder

        return without_unusable(ProctorUnderstaffedFinder(), inputs)
