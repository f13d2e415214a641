"""Looped or re-used footage: a stretch that repeats earlier footage, anywhere in the batch."""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import Candidate, FrameRefined, Inputs, KindSpec, Setting


class Loops(FrameRefined):
    name = "loops"
    scope = "batch"
    order = 26
    zh = "画面重复：一段录像与本批次中更早的录像相同（循环播放或重复使用）"
    en = "A stretch repeats earlier footage anywhere in the batch (looped or re-used)"
    kinds: ClassVar = (KindSpec("looped_footage", "画面重复", "Looped footage", "#db2777"),)
    needs: ClassVar = (
        "fingerprint",
        "motion_grid",
        "brightness",
        "contrast",
        "source_file",
        "t_file_s",
    )
    writes: ClassVar = ("fingerprint", "motion_cells", "motion_grid")
    settings: ClassVar = (
        Setting(
            "min_loop_s",
            float,
            20.0,
            "s",
            0,
            86400,
            zh="重复片段至少此时长才报告",
            en="Shortest repeated stretch reported",
        ),
    )

    def find(self, inputs: Inputs) -> list[Candidate]:
        from pipeline.findings.loops import find_loops

        assert inputs.timeline is not None
        events = find_loops(inputs.timeline, inputs.contexts, inputs.site.rules)
        return [Candidate.of(e) for e in events]
