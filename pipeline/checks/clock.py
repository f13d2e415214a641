"""Burned-in clock that jumps, or disagrees with the file's time (edited recordings)."""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import FinderCheck, FrameRefined, KindSpec, Setting


class Clock(FrameRefined, FinderCheck):
    name = "clock"
    order = 28
    zh = "画面时钟跳变，或与文件时间不符（剪辑过的录像）"
    en = "Burned-in clock jumps or disagrees with the file's time (edited footage)"
    kinds: ClassVar = (KindSpec("clock_jump", "时钟跳变", "Clock jump", "#ea580c"),)
    needs: ClassVar = (
        "clock_offset_s",
        "brightness",
        "contrast",
        "frame_diff",
        "noise",
        "source_file",
        "t_file_s",
    )
    writes: ClassVar = ("clock_offset_s",)
    settings: ClassVar = (
        Setting(
            "max_clock_drift_s",
            float,
            2.0,
            "s",
            0,
            3600,
            zh="画面时钟与文件时间允许的偏差",
            en="Largest clock drift tolerated",
        ),
    )
    finder = "pipeline.findings.clock:ClockJumpFinder"
