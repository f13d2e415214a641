"""Camera turned, zoomed or obstructed relative to the session's reference view."""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import FinderCheck, FrameRefined, KindSpec, Setting


class View(FrameRefined, FinderCheck):
    name = "view"
    order = 24
    zh = "摄像头被转动、变焦或遮挡，画面与本场的参考视角不同"
    en = "Camera turned, zoomed or obstructed against the session's reference view"
    kinds: ClassVar = (KindSpec("view_changed", "视角改变", "View changed", "#7c3aed"),)
    needs: ClassVar = ("layout", "brightness", "contrast", "source_file", "t_file_s")
    writes: ClassVar = ("layout",)
    settings: ClassVar = (
        Setting(
            "min_view_changed_s",
            float,
            10.0,
            "s",
            0,
            86400,
            zh="视角改变持续至少此时长才报告",
            en="Shortest view change reported",
        ),
    )
    finder = "pipeline.findings.view:ViewChangedFinder"
