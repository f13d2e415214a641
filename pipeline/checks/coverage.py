"""Coverage: is every scheduled minute on video? (``recording_missing``, ``recording_gap``)."""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import FinderCheck, KindSpec, Setting


class Coverage(FinderCheck):
    name = "coverage"
    group = "coverage"
    order = 10
    zh = "每个计划场次是否全程有录像：缺失、开始晚、结束早、文件之间或文件内的中断"
    en = "Every scheduled minute on video: missing, late start, early stop, gaps"
    kinds: ClassVar = (
        # a scheduled session without any recording: the exam plan was not followed (item 3)
        KindSpec(
            "recording_missing", "录像缺失", "Recording missing", "#7f1d1d", False, checklist="3"
        ),
        KindSpec("recording_gap", "录像中断", "Recording gap", "#dc2626", False),
    )
    settings: ClassVar = (
        Setting(
            "min_gap_s",
            float,
            2.0,
            "s",
            0,
            86400,
            zh="短于此时长的中断不报告",
            en="Shortest gap reported",
        ),
    )
    finder = "pipeline.findings.coverage:CoverageFinder"
