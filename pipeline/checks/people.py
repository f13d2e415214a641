"""Proctor presence: nobody in the proctor zone (the invigilator, or the examiner)."""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import Candidate, Check, Inputs, KindSpec, Setting

# checks whose spans show no usable picture of the room: nobody can be seen there
UNUSABLE = ("black", "frozen", "view")


def unusable_spans(inputs: Inputs) -> list[tuple[float, float]]:
    """Epoch-second spans of the used integrity checks' candidates (computed once)."""
    return [
        (c.start.timestamp(), c.end.timestamp())
        for name in UNUSABLE
        for c in inputs.used.get(name, ())
    ]


def without_unusable(finder, inputs: Inputs) -> list[Candidate]:
    """A people finder's findings on the session's samples outside those spans."""
    events = finder(inputs.timeline, inputs.ctx, excluded=unusable_spans(inputs))
    return [Candidate.of(e) for e in events]


class People(Check):
    name = "people"
    group = "people"
    order = 40
    zh = "监考（实操为考评员）区域内无人超过规定时长"
    en = "Nobody in the proctor zone (invigilator or examiner) for longer than the rule"
    kinds: ClassVar = (
        KindSpec(
            "proctor_absent", "监考缺席", "Proctor absent", "#d97706", checklist="5", people=True
        ),
    )
    needs: ClassVar = ("persons_in_proctor_zone", "source_file")
    # person_boxes: the session-level static look-alike filter (pipeline.findings.static)
    writes: ClassVar = ("persons", "persons_in_proctor_zone", "person_boxes")
    uses: ClassVar = UNUSABLE
    settings: ClassVar = (
        Setting(
            "min_proctor_absence_s",
            float,
            60.0,
            "s",
            0,
            86400,
            zh="监考区无人持续至少此时长才报告",
            en="Shortest proctor absence reported",
        ),
    )

    def find(self, inputs: Inputs) -> list[Candidate]:
        from pipeline.findings.people import ProctorAbsenceFinder

        return without_unusable(ProctorAbsenceFinder(), inputs)
