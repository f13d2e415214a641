"""Practical exams run as Q&A: people present but nobody working at the equipment station."""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import Candidate, Check, Inputs, KindSpec, Setting
from pipeline.checks.people import UNUSABLE, without_unusable


class Station(Check):
    name = "station"
    group = "people"
    order = 42
    zh = "实操考试中有人在场但工位无人动手操作（以问答代替实操）"
    en = "Practical session with people present but nobody working at the station (Q&A)"
    kinds: ClassVar = (
        KindSpec(
            "qa_substitution",
            "实操改问答",
            "Practical run as Q&A",
            "#2563eb",
            checklist="4",
            people=True,
        ),
    )
    needs: ClassVar = (
        "persons",
        "persons_in_station_zone",
        "station_motion",
        "station_hands_on",
        "source_file",
    )
    writes: ClassVar = ("persons_in_station_zone", "station_hands_on", "station_motion")
    uses: ClassVar = UNUSABLE
    settings: ClassVar = (
        Setting(
            "min_station_idle_s",
            float,
            300.0,
            "s",
            0,
            86400,
            zh="工位无人操作持续至少此时长才报告",
            en="Shortest idle station (people present) reported",
        ),
    )

    def find(self, inputs: Inputs) -> list[Candidate]:
        from pipeline.findings.people import QaSubstitutionFinder

        return without_unusable(QaSubstitutionFinder(), inputs)
