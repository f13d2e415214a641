"""Frozen picture: the feed stopped (keyframes repeat the picture), not a quiet room."""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import FinderCheck, FrameRefined, KindSpec, Setting


class Frozen(FrameRefined, FinderCheck):
    name = "frozen"
    order = 22
    zh = "画面冻结：关键帧重复同一画面（传感器噪声不再更新）"
    en = "Frozen picture: keyframes repeat the same picture (no new sensor noise)"
    kinds: ClassVar = (KindSpec("frozen_video", "画面冻结", "Frozen picture", "#0891b2"),)
    needs: ClassVar = (
        "frame_diff",
        "noise",
        "key_repeat",
        "key_repeat_s",
        "brightness",
        "contrast",
        "source_file",
        "t_file_s",
    )
    writes: ClassVar = ("frame_diff", "noise", "key_repeat", "key_repeat_s")
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
