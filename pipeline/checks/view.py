"""Camera turned, zoomed or obstructed relative to the camera's usual view (learned over the
batch, or pinned by a reference image or an earlier evidence folder)."""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import FinderCheck, FrameRefined, KindSpec, Setting


class View(FrameRefined, FinderCheck):
    name = "view"
    order = 24
    zh = "摄像头被转动、变焦或遮挡，画面与该摄像头的常用视角（整批学习或参考图）不同"
    en = "Camera turned, zoomed or obstructed against the camera's usual view (batch or pinned)"
    kinds: ClassVar = (KindSpec("view_changed", "视角改变", "View changed", "#7c3aed"),)
    needs: ClassVar = ("view_signature", "brightness", "contrast", "source_file", "t_file_s")
    writes: ClassVar = ("view_signature",)
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
        Setting(
            "view_changed_distance",
            float,
            0.06,
            "",
            0.01,
            1.0,
            zh="结构特征距离达到此值即视为视角改变（同一视角实测 < 0.04）",
            en="Structure-signature distance from which a sample shows another view "
            "(same view measured < 0.04)",
        ),
        Setting(
            "view_restored_distance",
            float,
            0.045,
            "",
            0.0,
            1.0,
            zh="距离低于此值视为恢复常用视角（滞回）",
            en="Distance below which the usual view is back (hysteresis)",
        ),
        Setting(
            "view_persistent_sessions",
            int,
            2,
            "sessions",
            1,
            100000,
            zh="新视角从改变起保持到批次结束并跨至少此场数，视为永久调整（只报一次）",
            en="Sessions a new view must hold to the batch's end to count as a permanent "
            "re-aim (reported once)",
        ),
    )
    finder = "pipeline.findings.view:ViewChangedFinder"
