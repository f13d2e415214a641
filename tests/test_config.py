"""site.toml and schedule.csv: valid input parses; every invalid input names file and line/key."""

from __future__ import annotations

from pathlib import Path

import pytest
from clipgen import SCHEDULE_HEADER

from pipeline.errors import InputError
from pipeline.inputs.config import FULL_FRAME, load_site
from pipeline.inputs.schedule import load_schedule

ROW = "S1,C1,R1,cam01,theory,safety,2022-03-15T08:30:00+08:00,2022-03-15T09:30:00+08:00,30,1\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_site_defaults_match_design(tmp_path: Path) -> None:
    site = load_site(write(tmp_path, "site.toml", 'timezone = "Asia/Shanghai"\n'))
    r = site.rules
    assert (r.min_gap_s, r.min_black_s, r.min_frozen_s) == (2.0, 5.0, 10.0)
    assert (r.min_proctor_absence_s, r.min_station_idle_s) == (60.0, 300.0)
    assert (r.min_height, r.min_fps) == (720, 15)
    assert site.camera("unknown").proctor_zone == FULL_FRAME
    assert not site.camera("unknown").configured


def test_site_parses_cameras(tmp_path: Path) -> None:
    site = load_site(
        write(
            tmp_path,
            "site.toml",
            """
[rules]
min_gap_s = 3
[cameras.cam01]
proctor_zone = [[0.0,0.0],[0.5,0.0],[0.5,1.0],[0.0,1.0]]
station_zone = [[0.55,0.35],[0.95,0.35],[0.95,0.95],[0.55,0.95]]
clock_region = [0.0,0.0,0.4,0.08]
""",
        )
    )
    assert site.rules.min_gap_s == 3.0
    cam = site.cameras["cam01"]
    assert cam.proctor_zone[1] == (0.5, 0.0)
    assert cam.clock_region == (0.0, 0.0, 0.4, 0.08)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[rules]\nmin_gapp_s = 2\n", "rules.min_gapp_s"),
        ('[rules]\nmin_gap_s = "two"\n', "rules.min_gap_s"),
        ("[rules]\nmin_height = 720.5\n", "rules.min_height"),
        ("[rules]\nmin_fps = -1\n", "rules.min_fps"),
        ('timezone = "Mars/Olympus"\n', "timezone"),
        ("filename_pattern = '(?P<cam>x)'\n", "filename_pattern"),
        ("filename_pattern = '(['\n", "filename_pattern"),
        ("[cameras.cam01]\nproctor_zone = [[0,0],[1,0]]\n", "cameras.cam01.proctor_zone"),
        ("[cameras.cam01]\nproctor_zone = [[0,0],[1,0],[2,1]]\n", "cameras.cam01.proctor_zone[2]"),
        ("[cameras.cam01]\nclock_region = [0.9,0,0.4,0.1]\n", "cameras.cam01.clock_region"),
        ("[cameras.cam01]\nzone = 1\n", "cameras.cam01.zone"),
        ("colour = 1\n", "colour"),
        ("[analysis]\nperson_anchor = 'head'\n", "analysis.person_anchor"),
    ],
)
def test_site_errors_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, "site.toml", text)
    with pytest.raises(InputError) as err:
        load_site(path)
    assert err.value.where == key
    assert str(path) in str(err.value)


def test_site_toml_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "site.toml", 'timezone = "UTC"\n[rules\n')
    with pytest.raises(InputError) as err:
        load_site(path)
    assert err.value.where == "line 2"


def test_schedule_parses_to_utc(tmp_path: Path) -> None:
    (s,) = load_schedule(write(tmp_path, "schedule.csv", SCHEDULE_HEADER + ROW))
    assert s.scheduled_start.isoformat() == "2022-03-15T00:30:00+00:00"
    assert s.duration_s == 3600
    assert (s.exam_type, s.candidates, s.proctors_required) == ("theory", 30, 1)


@pytest.mark.parametrize(
    ("rows", "where", "reason"),
    [
        (
            ROW.replace("2022-03-15T08:30:00+08:00", "2022-13-45T08:30"),
            "line 2, scheduled_start",
            "ISO",
        ),
        (
            ROW.replace("+08:00,2022-03-15T09", ",2022-03-15T09"),
            "line 2, scheduled_start",
            "offset",
        ),
        (ROW.replace("theory", "oral"), "line 2, exam_type", "theory or practical"),
        (ROW.replace(",30,1", ",thirty,1"), "line 2, candidates", "whole number"),
        (ROW + ROW, "line 3, session_id", "already on line 2"),
        (
            ROW
            + ROW.replace("S1", "S2")
            .replace("08:30:00", "09:00:00")
            .replace("09:30:00", "10:00:00"),
            "line 3",
            "overlaps session S1",
        ),
        (ROW.replace("09:30:00", "08:00:00"), "line 2, scheduled_end", "after"),
        (ROW.replace(",safety", ""), "line 2", "expected 10 fields"),
    ],
)
def test_schedule_errors_name_the_line(tmp_path: Path, rows: str, where: str, reason: str) -> None:
    path = write(tmp_path, "schedule.csv", SCHEDULE_HEADER + rows)
    with pytest.raises(InputError) as err:
        load_schedule(path)
    assert err.value.where == where
    assert reason in err.value.reason
    assert str(path) in str(err.value)


def test_schedule_header_must_have_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "schedule.csv", "session_id,camera_id\nS1,cam01\n")
    with pytest.raises(InputError) as err:
        load_schedule(path)
    assert err.value.where == "line 1"
    assert "scheduled_start" in err.value.reason
