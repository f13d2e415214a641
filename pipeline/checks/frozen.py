"""Frozen picture: the feed stopped (keyframes repeat the picture), not a quiet room."""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import FinderCheck, FrameRefined, KindSpec, Setting

# The values become one test, pipeline.signals.picture.FrozenTest, for the finder
# (pipeline.findings.picture) and the refinement.
LIMITS = (
    # Frozen: the change to the previous sample against the picture's own sensor noise. A live
    # camera's temporal noise is as strong as its spatial noise (mean |diff| ~ 1.13 sigma for
    # white noise); a frozen picture, even re-encoded at every keyframe, changes far less than
    # the noise frozen into it. Below frozen_min_diff grey levels the picture is identical.
    Setting(
        "frozen_ratio",
        float,
        0.7,
        "x noise",
        0,
        10,
        zh="与上一采样的差异低于噪声的此倍数，开始算静止",
        en="Change to the previous sample, in units of sensor noise, below which it is still",
    ),
    Setting(
        "frozen_ratio_exit",
        float,
        0.9,
        "x noise",
        0,
        10,
        zh="静止持续中，差异超过噪声的此倍数才算恢复（滞回）",
        en="Change in units of noise above which a still stretch ends (hysteresis)",
    ),
    Setting(
        "frozen_min_diff",
        float,
        0.15,
        "grey levels",
        0,
        10,
        zh="差异不超过此灰度即视为同一画面（不看噪声）",
        en="Change at or below which two pictures are identical whatever the noise",
    ),
    # Frozen, verified: a keyframe that repeats the picture shown before it. A live sensor's
    # noise is new in every keyframe even when nothing moves (P-frames of a still scene copy
    # their keyframe's noise, so only keyframes count); a stopped feed encodes the same
    # picture again. Measured on plates from the real TUD clips (benchmarks/bench_still.py,
    # analysis width 320, the clock box masked): a live still room's keyframes differ by 0.35
    # (1080p, sigma 0.5, CRF 18) to 2.6 grey levels (sigma 5), a repeated picture by
    # 0.00-0.06 (CRF 18-32, H.264 and H.265, x264 nr on or off); re-encoded under constant
    # bitrate its first keyframes differ by up to 0.3 while the rate control settles, then
    # repeat. 0.2 sits below the live minimum with a 1.75x margin. The correlation of
    # high-frequency residuals was measured too and does not separate them: on a real plate
    # the room's own edges dominate the residual (0.97-1.00 live and frozen alike).
    Setting(
        "frozen_repeat_diff",
        float,
        0.2,
        "grey levels",
        0,
        10,
        zh="关键帧与之前画面的差异不超过此值，即视为重复画面（实测：实时 ≥ 0.35，重复 ≤ 0.06）",
        en="Keyframe difference to an earlier picture at or below which it repeats it "
        "(measured: live >= 0.35, repeated <= 0.06)",
    ),
    # Under CRF or constant bitrate the rate control needs a few keyframes to settle on a
    # repeated picture (0.3-1.0 grey levels between them, 0.45-0.8 of the live level, measured
    # in the same matrix; a live room's keyframes stay within +-20 % of their median): next to
    # a verified repeat, keyframes under this share of the camera's own live level are the
    # same picture re-quantised.
    Setting(
        "frozen_repeat_grow",
        float,
        0.8,
        "x live level",
        0,
        1,
        zh="紧邻已确认的重复时，关键帧差异低于本摄像机实时水平的此比例，仍算同一画面",
        en="Next to a verified repeat, keyframes under this share of the camera's live "
        "level are the same picture re-quantised",
    ),
    # Sparse samples may see no settled keyframe at all (two samples in a 15 s freeze): a
    # keyframe within this share of the live level also repeats. In a live still room every
    # keyframe sits at the live level, so this never fires there; it can where people moving
    # raise the level.
    Setting(
        "frozen_repeat_hit",
        float,
        0.3,
        "x live level",
        0,
        1,
        zh="采样稀疏时，关键帧差异在实时水平的此比例以内也算重复",
        en="With sparse samples, a keyframe within this share of the live level also repeats",
    ),
    # ... and such a settling keyframe still changes about as much as the noise, not like
    # people moving (the still test's ratio; a live camera with people scores 1.5 and more)
    Setting(
        "frozen_still_loose",
        float,
        1.2,
        "x noise",
        0,
        10,
        zh="上述关键帧的变化须不超过噪声的此倍数（有人活动的实时画面 ≥ 1.5）",
        en="... and change at most this many times the noise (live with people: >= 1.5)",
    ),
)


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
        *LIMITS,
    )
    finder = "pipeline.findings.picture:FrozenVideoFinder"
