"""Frozen picture: no change above the sensor-noise floor."""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import FinderCheck, FrameRefined, KindSpec, Setting


class Frozen(FrameRefined, FinderCheck):
    name = "frozen"
    order = 22
    zh = "画面冻结：变化不超过传感器噪声"
    en = "Frozen picture: no change above the sensor-noise floor"
    kinds: ClassVar = (KindSpec("frozen_video", "画面冻结", "Frozen picture", "#0891b2"),)
    needs: ClassVar = ("frame_diff", "noise", "brightness", "contrast", "source_file", "t_file_s")
    writes: ClassVar = ("frame_diff", "noise")
    settings: ClassVar = (
        Setting(
            "min_frozen_s",
            float,
            10.0,
            "s",
            0,
            86400,
            zh="冻结持续至少此时长才报告",
            en="Shortest frozen picture reported",
        ),
    )
    finder = "pipeline.findings.picture:FrozenVideoFinder"
