"""Black or covered picture (lens covered, video loss)."""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import FinderCheck, FrameRefined, KindSpec, Setting

# Black: a uniform picture (video loss screens, a covered lens), or a dark one without the
# contrast of a room. Entering needs the strict values; leaving needs the relaxed ones
# (hysteresis), so noise cannot split a run. Dark alone is not black: a room at night (real
# plate at a fifth of its light, sensor noise 4: mean luma 18, std 9) is live and watchable;
# a covered lens or loss screen stays under std 3.5 (tests/test_still_rooms.py). The values
# become one test, pipeline.signals.picture.BlackTest, for the finder and the refinement.
LIMITS = (
    Setting(
        "black_luma",
        float,
        24.0,
        "grey levels",
        0,
        255,
        zh="平均亮度不超过此值（且对比度低）的画面开始算黑屏",
        en="Mean luma at or below which a low-contrast picture starts to count as black",
    ),
    Setting(
        "black_luma_exit",
        float,
        32.0,
        "grey levels",
        0,
        255,
        zh="黑屏持续中，平均亮度超过此值才算恢复（滞回）",
        en="Mean luma above which a black stretch ends (hysteresis)",
    ),
    Setting(
        "black_uniform_std",
        float,
        5.0,
        "grey levels",
        0,
        128,
        zh="亮度标准差不超过此值的均匀画面（无信号画面、遮挡）开始算黑屏",
        en="Luma std at or below which a uniform picture (loss screen, cover) starts black",
    ),
    Setting(
        "black_uniform_std_exit",
        float,
        8.0,
        "grey levels",
        0,
        128,
        zh="均匀画面的标准差超过此值才算恢复（滞回）",
        en="Luma std above which a uniform picture ends being black (hysteresis)",
    ),
    Setting(
        "black_dark_std",
        float,
        7.0,
        "grey levels",
        0,
        128,
        zh="暗画面的标准差低于此值才算黑屏（夜间房间实测标准差约 9）",
        en="A dark picture is black only with a luma std below this (a room at night: ~9)",
    ),
    Setting(
        "black_dark_std_exit",
        float,
        8.5,
        "grey levels",
        0,
        128,
        zh="暗画面的标准差超过此值才算恢复（滞回）",
        en="Luma std above which a dark picture ends being black (hysteresis)",
    ),
)
# Motion (the contract's ``motion`` column, written with brightness and contrast): the share
# of pixels that changed by more than this after a 3x3 blur, above sensor noise.
MOTION = Setting(
    "motion_level",
    float,
    20.0,
    "grey levels",
    1,
    255,
    zh="像素变化超过此灰度才计入运动量（motion 列）",
    en="Pixel change counted as motion in the motion column",
)


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
        *LIMITS,
        MOTION,
    )
    finder = "pipeline.findings.picture:BlackScreenFinder"
