"""Black or covered picture (lens covered, video loss)."""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import FinderCheck, FrameRefined, KindSpec, Setting


class Black(FrameRefined, FinderCheck):
    name = "black"
    order = 20
    zh = "黑屏或镜头被遮挡"
    en = "Dark or uniform picture: covered lens, video loss"
    kinds: ClassVar = (KindSpec("black_screen", "黑屏/遮挡", "Black or covered", "#111827"),)
    needs: ClassVar = ("brightness", "contrast", "source_file", "t_file_s")
    writes: ClassVar = ("brightness", "contrast", "motion")
    settings: ClassVar = (
        Setting(
            "min_black_s",
            float,
            5.0,
            "s",
            0,
            86400,
            zh="黑屏持续至少此时长才报告",
            en="Shortest black picture reported",
        ),
    )
    finder = "pipeline.findings.picture:BlackScreenFinder"
