"""Proctor presence: nobody in the proctor zone (the invigilator, or the examiner)."""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import Candidate, Check, Inputs, KindSpec, Setting

# checks whose spans show no usable picture of the room: nobody can be seen there
UNUSABLE = ("black", "frozen", "view")

# Static look-alikes (pipeline.findings.static): a detection at one place all session that
# never moves (a poster, a coat on a chair) is left out of every people count. A person sitting
# still moves the pixels around them (breathing, writing, looking up) in far more than 5 % of
# the samples; one detection in half the samples is "there all session".
LOOKALIKE = (
    Setting(
        "lookalike_min_share",
        float,
        0.5,
        "share",
        0,
        1,
        zh="同一位置检测到人的采样占比至少此值，才可能是静止假人（海报、衣物）",
        en="Share of a session's samples with a detection at one place for it to be a "
        "static look-alike (poster, coat)",
    ),
    Setting(
        "lookalike_max_moving_share",
        float,
        0.05,
        "share",
        0,
        1,
        zh="该位置有运动的采样占比不超过此值，才算静止假人",
        en="... and at most this share of its clear samples with motion around it",
    ),
    Setting(
        "lookalike_moving",
        float,
        0.01,
        "share",
        0,
        1,
        zh="人框周围变化像素占比达到此值即算有运动",
        en="Share of changed pixels around a person box that counts as motion",
    ),
)


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
        *LOOKALIKE,
    )

    def find(self, inputs: Inputs) -> list[Candidate]:
        from pipeline.findings.people import ProctorAbsenceFinder

        return without_unusable(ProctorAbsenceFinder(), inputs)
