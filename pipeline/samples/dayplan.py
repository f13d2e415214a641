"""The sample centre's day: cameras, sessions, their faults and people, and the files,
schedule.csv, site.toml and ground_truth.json that follow from them."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pipeline.inputs.schedule import COLUMNS
from pipeline.samples.clock import CLOCK_REGION
from pipeline.samples.faults import (
    Black,
    ClockCut,
    EarlyStop,
    Fault,
    Frozen,
    LateStart,
    Loop,
    Missing,
    PtsJump,
    Reuse,
    SegmentGap,
    Turned,
)
from pipeline.samples.scene import (
    CANDIDATE_ZONE,
    PRACTICAL_PROCTOR_ZONE,
    STATION_ZONE,
    THEORY_PROCTOR_ZONE,
)

GENERATOR_VERSION = "2"
TIMEZONE = "Asia/Shanghai"
DAY = "2022-03-15"
CENTRE = "C01"
FPS = 15
GOP_S = 2.0
SESSION_S = 180.0

RULES = {
    "min_gap_s": 2.0,
    "min_black_s": 5.0,
    "min_frozen_s": 10.0,
    "min_proctor_absence_s": 30.0,
    "min_station_idle_s": 60.0,
    "min_height": 360,
    "min_fps": 15,
    "min_view_changed_s": 10.0,
    "min_loop_s": 20.0,
    "max_clock_drift_s": 2.0,
    "min_understaffed_s": 60.0,
    "candidate_count_tolerance": 0.25,
    "min_unscheduled_s": 120.0,
    "min_unscheduled_people": 3,
    "no_schedule_gap_s": 90.0,
}
ANALYSIS = {"sample_every_s": 2.0, "width": 640, "unscheduled_every_s": 20.0}


@dataclass(frozen=True)
class CameraSpec:
    camera_id: str
    room_id: str
    kind: str  # theory | practical (what the room is equipped for)
    width: int = 640
    height: int = 360
    variant: int = 0  # wall tint, so rooms differ

    @property
    def proctor_zone(self):
        return PRACTICAL_PROCTOR_ZONE if self.kind == "practical" else THEORY_PROCTOR_ZONE

    @property
    def station_zone(self):
        return STATION_ZONE if self.kind == "practical" else None

    @property
    def candidate_zone(self):
        # not on the low-resolution camera: seated people at 270 lines are too small to count
        return CANDIDATE_ZONE if self.kind == "theory" and self.height >= 360 else None


@dataclass(frozen=True)
class SessionSpec:
    session_id: str
    camera_id: str
    exam_type: str
    subject: str
    start: str  # local HH:MM:SS on DAY
    people: str = "class"  # cast script name, see pipeline.samples.people.SCRIPTS
    faults: tuple[Fault, ...] = ()
    duration_s: float = SESSION_S
    candidates: int = 4
    proctors: int = 1  # the schedule's proctors_required
    note: str = ""
    extra: dict = field(default_factory=dict, compare=False)
    planned: bool = True  # False: recorded, but not in schedule.csv (an exam outside the plan)

    def start_local(self) -> datetime:
        return datetime.fromisoformat(f"{DAY}T{self.start}").replace(tzinfo=ZoneInfo(TIMEZONE))


CAMERAS: tuple[CameraSpec, ...] = (
    CameraSpec("cam01", "R101", "theory", variant=0),
    CameraSpec("cam02", "R102", "practical", variant=1),
    CameraSpec("cam03", "R103", "theory", width=480, height=270, variant=2),  # below min_height
    CameraSpec("cam04", "R104", "theory", variant=3),
)

SESSIONS: tuple[SessionSpec, ...] = (
    # cam01: clean reference and the coverage faults (issue 2)
    SessionSpec("S01", "cam01", "theory", "Electrician safety (theory)", "08:00:00", note="clean"),
    SessionSpec(
        "S02",
        "cam01",
        "theory",
        "Electrician safety (theory)",
        "08:10:00",
        faults=(SegmentGap(80, 30),),
    ),
    SessionSpec(
        "S03", "cam01", "theory", "Welding safety (theory)", "08:20:00", faults=(PtsJump(70, 25),)
    ),
    SessionSpec(
        "S04", "cam01", "theory", "Welding safety (theory)", "08:30:00", faults=(LateStart(40),)
    ),
    SessionSpec(
        "S05", "cam01", "theory", "Work at height (theory)", "08:40:00", faults=(EarlyStop(45),)
    ),
    SessionSpec(
        "S06", "cam01", "theory", "Work at height (theory)", "08:50:00", faults=(Missing(),)
    ),
    # cam02: practical room (issue 4)
    SessionSpec(
        "S07",
        "cam02",
        "practical",
        "Electrician (practical)",
        "08:00:00",
        people="practical_hands_on",
        candidates=1,
        note="clean",
    ),
    SessionSpec(
        "S08",
        "cam02",
        "practical",
        "Electrician (practical)",
        "08:10:00",
        people="practical_qa",
        candidates=1,
    ),
    # cam03: low-resolution camera (format_noncompliant, file-level)
    SessionSpec("S09", "cam03", "theory", "Refrigeration safety (theory)", "08:00:00"),
    # cam04: picture integrity (issue 3), one fault per session
    SessionSpec(
        "S10",
        "cam04",
        "theory",
        "Hazardous chemicals (theory)",
        "08:00:00",
        faults=(Black(60, 20),),
    ),
    SessionSpec(
        "S11",
        "cam04",
        "theory",
        "Hazardous chemicals (theory)",
        "08:10:00",
        faults=(Frozen(60, 30),),
    ),
    SessionSpec(
        "S12", "cam04", "theory", "Mine safety (theory)", "08:20:00", faults=(Turned(60, 60),)
    ),
    SessionSpec(
        "S13",
        "cam04",
        "theory",
        "Mine safety (theory)",
        "08:30:00",
        people="walks_the_aisle",
        faults=(Loop(20, 100, 30),),
    ),
    SessionSpec(
        "S14", "cam04", "theory", "Gas safety (theory)", "08:40:00", faults=(Reuse("S01"),)
    ),
    SessionSpec(
        "S15", "cam04", "theory", "Gas safety (theory)", "08:50:00", faults=(ClockCut(60, 120),)
    ),
    SessionSpec(
        "S16",
        "cam04",
        "theory",
        "Boiler safety (theory)",
        "09:00:00",
        people="empty",
        note="empty room",
    ),
    # cam01 again: proctor leaves the room (issue 4)
    SessionSpec(
        "S17", "cam01", "theory", "Electrician safety (theory)", "09:00:00", people="proctor_leaves"
    ),
    # cam01: head counts against the schedule (issue 13)
    SessionSpec(
        "S18",
        "cam01",
        "theory",
        "Work at height (theory)",
        "09:10:00",
        people="proctor_seated",
        duration_s=140.0,
        note="clean: the invigilator sits at the front desk all session",
    ),
    SessionSpec(
        "S19",
        "cam01",
        "theory",
        "Welding safety (theory)",
        "09:20:00",
        people="desk_and_aisle",
        proctors=2,
        duration_s=140.0,
        note="two invigilators planned, one there (desk and aisle); two of four candidates",
    ),
    # cam02: a class held when the plan lists nothing for the room (issue 16)
    SessionSpec(
        "U01",
        "cam02",
        "theory",
        "(not in the plan)",
        "08:20:00",
        duration_s=200.0,
        planned=False,
        note="exam outside the plan",
    ),
)


def camera(camera_id: str) -> CameraSpec:
    return next(c for c in CAMERAS if c.camera_id == camera_id)


def session(session_id: str) -> SessionSpec:
    return next(s for s in SESSIONS if s.session_id == session_id)


def utc(when: datetime) -> datetime:
    return when.astimezone(UTC)


def iso_utc(when: datetime) -> str:
    return utc(when).isoformat(timespec="seconds" if when.microsecond == 0 else "milliseconds")


def file_name(camera_id: str, start_local: datetime) -> str:
    return f"{camera_id}_{start_local.strftime('%Y%m%dT%H%M%S')}.mp4"


def schedule_csv(sessions=SESSIONS) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for s in (s for s in sessions if s.planned):
        start = s.start_local()
        writer.writerow(
            [
                s.session_id,
                CENTRE,
                camera(s.camera_id).room_id,
                s.camera_id,
                s.exam_type,
                s.subject,
                start.isoformat(),
                (start + timedelta(seconds=s.duration_s)).isoformat(),
                s.candidates,
                s.proctors,
            ]
        )
    return out.getvalue()


def _toml_value(value) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, float | int):
        return repr(value)
    return "[" + ", ".join(_toml_value(v) for v in value) + "]"


def site_toml(cameras=CAMERAS) -> str:
    lines = [
        "# Sample exam centre (generated by `examaudit samples`).",
        "# Rules are scaled down to fit its short sessions.",
        f"timezone = {_toml_value(TIMEZONE)}",
        "",
        "[rules]",
        *(f"{k} = {_toml_value(v)}" for k, v in RULES.items()),
        "",
        "[analysis]",
        *(f"{k} = {_toml_value(v)}" for k, v in ANALYSIS.items()),
    ]
    for cam in cameras:
        lines += [
            "",
            f"[cameras.{cam.camera_id}]",
            f"proctor_zone = {_toml_value([list(p) for p in cam.proctor_zone])}",
        ]
        if cam.station_zone:
            lines.append(f"station_zone = {_toml_value([list(p) for p in cam.station_zone])}")
        if cam.candidate_zone:
            lines.append(f"candidate_zone = {_toml_value([list(p) for p in cam.candidate_zone])}")
        lines.append(f"clock_region = {_toml_value(list(CLOCK_REGION))}")
    return "\n".join(lines) + "\n"
