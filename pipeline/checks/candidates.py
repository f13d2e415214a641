"""Candidates present vs the roster: the head count in the candidate zone against the plan."""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import Candidate, Check, Inputs, KindSpec, Setting
from pipeline.checks.people import UNUSABLE, without_unusable


class Candidates(Check):
    name = "candidates"
    group = "people"
    order = 43
    zh = "考生区人数（稳健计数）与考试计划的考生人数不符"
    en = "Head count in the candidate zone (robust) differs from the plan's candidates"
    kinds: ClassVar = (
        KindSpec(
            "candidate_count_mismatch",
            "考生人数不符",
            "Candidate count mismatch",
            "#4d7c0f",
            checklist="3",
            people=True,
        ),
    )
    needs: ClassVar = ("persons_in_candidate_zone", "person_boxes", "source_file")
    writes: ClassVar = ("persons_in_candidate_zone", "person_boxes")
    uses: ClassVar = UNUSABLE
    settings: ClassVar = (
        Setting(
            "candidate_count_tolerance",
            float,
            0.2,
            "share",
            0,
            1,
            zh="考生区稳健人数与计划考生人数之差超过计划人数的此比例才报告",
            en="Share of the roster by which the candidate zone's robust count may differ "
            "from the plan's candidates",
        ),
    )

    def find(self, inputs: Inputs) -> list[Candidate]:
        from pipeline.findings.headcount import CandidateCountFinder

        return without_unusable(CandidateCountFinder(), inputs)
