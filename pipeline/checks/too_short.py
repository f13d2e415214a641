"""A recording file shorter than the site's minimum: an NVR that restarted, or a cut file.

Off by default (``min_recording_s = 0``): segment lengths differ between recorders, so only
the site knows what is too short. The last file of a day may be legitimately short; the
finding says how long it is and the minimum, and an inspector decides.
"""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import Candidate, Check, Inputs, KindSpec, Setting


class RecordingTooShort(Check):
    name = "too_short"
    group = "coverage"
    scope = "file"
    order = 52
    zh = "录像文件时长短于场地规定的最短时长"
    en = "A recording file shorter than the site's minimum length"
    kinds: ClassVar = (
        KindSpec("recording_too_short", "录像过短", "Recording too short", "#b45309"),
    )
    settings: ClassVar = (
        Setting(
            "min_recording_s",
            float,
            0.0,
            "s",
            0,
            86400,
            zh="录像文件的最短时长（0 为不检查）",
            en="Shortest acceptable recording file (0: not checked)",
        ),
    )

    def find(self, inputs: Inputs) -> list[Candidate]:
        probe, minimum = inputs.probe, float(inputs.site.rules.value("min_recording_s"))
        if probe is None or probe.error is not None or probe.start is None or minimum <= 0:
            return []  # unreadable or undated files are the files check's findings
        if probe.duration_s >= minimum:
            return []
        details = {"duration_s": round(probe.duration_s, 3), "min_recording_s": minimum}
        return [
            Candidate(
                probe.start, probe.end or probe.start, 1.0, details, source_file=probe.path.name
            )
        ]
