"""Page texts in Chinese and English: ``{key: (zh, en)}``. The page carries both."""

from __future__ import annotations


def kind_labels() -> dict[str, tuple[str, str]]:
    """``{kind: (zh, en)}`` of every kind, as the checks declare them (:mod:`pipeline.checks`)."""
    from pipeline.checks.registry import kinds

    return {k: (spec.zh, spec.en) for k, spec in kinds().items()}


def __getattr__(name: str):
    if name == "KINDS":  # the older name of kind_labels()
        return kind_labels()
    raise AttributeError(name)


VERDICTS: dict[str, tuple[str, str]] = {
    "pass": ("通过", "Pass"),
    "flag": ("存疑", "Flagged"),
    "missing": ("无录像", "Missing"),
}

REVIEWS: dict[str, tuple[str, str]] = {
    "unreviewed": ("未复核", "Unreviewed"),
    "confirmed": ("已确认", "Confirmed"),
    "dismissed": ("已排除", "Dismissed"),
    "note": ("备注", "Note"),
}

EXAM_TYPES: dict[str, tuple[str, str]] = {
    "theory": ("理论", "Theory"),
    "practical": ("实操", "Practical"),
}

STRINGS: dict[str, tuple[str, str]] = {
    "title": ("考场录像审计报告", "Exam video audit report"),
    "switch": ("English", "中文"),
    "generated": ("生成时间", "Generated"),
    "timezone": ("时区", "Time zone"),
    "summary": ("概况", "Summary"),
    "sessions": ("考试场次", "Sessions"),
    "flagged": ("存疑场次", "Flagged sessions"),
    "events": ("发现问题", "Findings"),
    "reviewed": ("已复核", "Reviewed"),
    "files": ("录像文件", "Recording files"),
    "unreadable": ("无法读取", "Unreadable"),
    "filters": ("筛选", "Filters"),
    "all": ("全部", "All"),
    "centre": ("考点", "Centre"),
    "room": ("考场", "Room"),
    "date": ("日期", "Date"),
    "kind": ("类型", "Kind"),
    "verdict": ("结论", "Verdict"),
    "review": ("复核", "Review"),
    "reset": ("清除筛选", "Clear filters"),
    "session": ("场次", "Session"),
    "camera": ("摄像头", "Camera"),
    "exam_type": ("考试类型", "Exam type"),
    "start": ("开始", "Start"),
    "end": ("结束", "End"),
    "coverage": ("录像覆盖率", "Coverage"),
    "longest_gap": ("最长中断", "Longest gap"),
    # the proctor zone: where the invigilator is in a theory exam, and where the examiner
    # (考评员) stands or sits in a practical exam
    "proctor_presence": ("监考在场率（实操为考评员）", "Proctor presence (practical: examiner)"),
    "proctors_seen": ("监考人数（实操为考评员）", "Proctors seen (practical: examiners)"),
    "candidates_seen": ("考生人数", "Candidates seen"),
    "proctor_zone_note": (
        "监考区：理论考试为监考员所在区域，实操考试为考评员站立或就座之处；人数为分析样本中"
        "至少一半样本达到的人数，已排除海报等静态误检；“–”表示未测（无画面或未设考生区）。",
        "Proctor zone: where the invigilator is in a theory exam, where the examiner stands or "
        "sits in a practical exam. Counts are the head count reached in at least half of the "
        "analysed samples, static look-alikes (posters) left out; '–': not measured (no usable "
        "picture, or no candidate zone).",
    ),
    "longest_absence": ("最长缺席", "Longest absence"),
    "unverifiable": ("画面无法核验", "Unverifiable picture"),
    "unverifiable_hint": (
        "黑屏、冻结或镜头转向期间无法判断人员在场，既不计为在场也不计为缺席",
        "Black, frozen or turned-away picture: counted as neither presence nor absence",
    ),
    "station_activity": ("工位操作率", "Station activity"),
    "count": ("问题数", "Findings"),
    "timelines": ("场次时间线", "Session timelines"),
    "plan_vs_seen": ("考试计划与实际活动", "Exam plan against what the cameras saw"),
    "plan_row": ("计划场次", "Planned"),
    "seen_row": ("计划外活动", "Outside the plan"),
    "legend_planned": ("计划场次", "Planned session"),
    "legend_not_held": ("计划但未举行", "Planned, not held"),
    "legend_unscheduled": ("计划外考试活动", "Activity outside the plan"),
    "legend_derived": ("由录像推断的场次", "Session derived from the recordings"),
    "no_plan": (
        "未提供考试计划（schedule.csv）：场次由录像中的人员活动推断，无法核对是否按计划组织考试（检查项3）。",
        "No exam plan (schedule.csv) was given: sessions were derived from the people seen in "
        "the recordings; whether exams were held as planned (item 3) cannot be checked.",
    ),
    "lane_recorded": ("录像", "Recorded"),
    "lane_proctor": ("监考/考评员在场", "Proctor / examiner"),
    "lane_station": ("工位操作", "Station"),
    "lane_events": ("问题", "Findings"),
    "legend_gap": ("中断/缺失", "Gap / missing"),
    "no_timeline": ("无画面分析数据", "No picture analysis for this session"),
    "contact_sheet": ("缩略图总览", "Contact sheet"),
    "event_list": ("问题列表", "Findings"),
    "checklist": ("按检查项汇总", "Findings by checklist item"),
    "thumb": ("截图", "Thumbnail"),
    "reference_view": ("该摄像头常用视角", "Camera's usual view"),
    "clip": ("视频片段", "Clip"),
    "tail_clip": ("结尾片段", "Tail clip"),
    "no_clip": ("无视频片段", "No clip"),
    "duration": ("时长", "Duration"),
    "confidence": ("置信度", "Confidence"),
    "details": ("详情", "Details"),
    "source_file": ("源文件", "Source file"),
    "file_level": ("文件级", "file-level"),
    "confirm": ("确认", "Confirm"),
    "dismiss": ("排除", "Dismiss"),
    "add_note": ("添加备注", "Add note"),
    "note": ("备注", "Note"),
    "reviewer": ("复核人", "Reviewer"),
    "notes": ("备注记录", "Notes"),
    "saved": ("已保存", "Saved"),
    "save_failed": ("保存失败", "Save failed"),
    "ask_reviewer": (
        "请输入复核人姓名（本浏览器只问一次）",
        "Your name as reviewer (asked once in this browser)",
    ),
    "shown": ("显示", "Showing"),
    "of": ("/", "of"),
    "none_found": ("没有发现问题", "No findings"),
    "no_match": ("没有符合筛选条件的记录", "Nothing matches the filters"),
    "static_hint": (
        "本报告为静态文件；如需确认或排除问题，请运行 examaudit review。",
        "This is a static report; run `examaudit review` to confirm or dismiss findings.",
    ),
}
