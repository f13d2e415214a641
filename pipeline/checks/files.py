"""Each recording file: readable, and in the site's format (height, fps, codec, keyframes)."""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import Candidate, Check, Inputs, KindSpec, Setting


class Files(Check):
    name = "files"
    group = "coverage"
    scope = "file"
    order = 50
    zh = "录像文件可读，且符合场地的格式要求（分辨率、帧率、编码、关键帧间隔、时间戳）"
    en = "Each file readable and in the site's format (height, fps, codec, keyframes, time)"
    kinds: ClassVar = (
        KindSpec("format_noncompliant", "格式不合规", "Format non-compliant", "#64748b"),
        KindSpec("file_unreadable", "文件无法读取", "File unreadable", "#991b1b", False),
    )
    settings: ClassVar = (
        Setting(
            "min_height", int, 720, "px", 0, 8640, zh="最低分辨率高度", en="Lowest picture height"
        ),
        Setting("min_fps", float, 15.0, "fps", 0, 1000, zh="最低帧率", en="Lowest frame rate"),
        Setting(
            "allowed_codecs",
            tuple,
            ("h264", "hevc"),
            zh="允许的视频编码",
            en="Allowed video codecs",
        ),
        Setting(
            "max_keyframe_interval_s",
            float,
            10.0,
            "s",
            0,
            3600,
            zh="关键帧最大间隔",
            en="Longest keyframe interval",
        ),
    )

    def find(self, inputs: Inputs) -> list[Candidate]:
        from pipeline.findings.coverage import file_findings

        assert inputs.probe is not None
        return [Candidate.of(e) for e in file_findings(inputs.probe, inputs.site)]
