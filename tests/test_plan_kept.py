"""Exam plan kept (issue 16): planned exams not held, exams outside the plan, no plan at all.

Rules on constructed timelines (what a detector would have written), then the samples end
to end without their schedule.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import schemas
from pipeline.checks.base import Candidate, Inputs
from pipeline.checks.plan import NotHeld, Unscheduled
from pipeline.findings import SessionContext
from pipeline.inputs.config import Camera, Rules, Site
from pipeline.records import ExamSession
from pipeline.unscheduled import derive_sessions, outside_rows

T0 = datetime(2022, 3, 15, 0, 0, tzinfo=UTC)
ZONE = ((0.2, 0.5), (0.8, 0.5), (0.8, 0.9), (0.2, 0.9))


def site(**rules) -> Site:
    extra = tuple(sorted(rules.items()))
    return Site(
        timezone="Asia/Shanghai",
        rules=Rules(extra=extra),
        cameras={"cam01": Camera("cam01", proctor_zone=ZONE)},
    )


def timeline(persons, proctor, *, step=2.0, start=T0, camera="cam01", session="S01") -> pa.Table:
    n = len(persons)
    rows = {
        "session_id": [session] * n,
        "camera_id": [camera] * n,
        "t": [start + timedelta(seconds=i * step) for i in range(n)],
        "persons": persons,
        "persons_in_proctor_zone": proctor,
    }
    cols = {f.name: pa.array(rows.get(f.name, [None] * n), f.type) for f in schemas.TIMELINE}
    return pa.table(cols, schema=schemas.TIMELINE)


def session(sid="S01", minutes=3, start=T0, planned=True) -> ExamSession:
    return ExamSession(
        sid, "C01", "R1", "cam01", "theory", "x", start, start + timedelta(minutes=minutes),
        4, 1, planned,
    )  # fmt: skip


def not_held(tl: pa.Table, s: ExamSession, unusable=()) -> list[Candidate]:
    st = site()
    ctx = SessionContext(s, st.camera("cam01"), st, ())
    used = {"black": list(unusable), "frozen": [], "view": []}
    return NotHeld().find(Inputs(site=st, timeline=tl, ctx=ctx, used=used))


def test_an_empty_planned_session_is_not_held():
    found = not_held(timeline([0] * 90, [0] * 90), session())
    assert len(found) == 1
    assert (found[0].start, found[0].end) == (T0, T0 + timedelta(minutes=3))
    assert found[0].details["empty_share"] == 1.0
    assert found[0].details["candidates_planned"] == 4


def test_a_proctor_alone_is_not_an_exam_but_candidates_are():
    assert not_held(timeline([1] * 90, [1] * 90), session())  # invigilator, nobody to sit
    assert not not_held(timeline([5] * 90, [1] * 90), session())
    # candidates for a quarter of the window: held (late, short), not "not held"
    assert not not_held(timeline([0] * 68 + [4] * 22, [0] * 90), session())


def test_a_session_the_picture_cannot_show_is_not_judged_empty():
    black = Candidate(T0, T0 + timedelta(seconds=120))  # two thirds of the window unusable
    assert not not_held(timeline([0] * 90, [0] * 90), session(), unusable=[black])


def test_a_derived_session_is_never_not_held():
    assert not not_held(timeline([0] * 90, [0] * 90), session(planned=False))


def unscheduled(outside: pa.Table, sessions, **rules) -> list[Candidate]:
    st = site(**rules)
    contexts = [SessionContext(s, st.camera("cam01"), st, ()) for s in sessions]
    return Unscheduled().find(Inputs(site=st, outside=outside, contexts=contexts))


def test_activity_outside_the_plan_is_found_with_the_nearest_session():
    # 40 min of recording at 30 s: empty 10 min, 4 people 20 min (one sample missed), empty
    counts = [0] * 20 + [4] * 18 + [0] + [4] * 21 + [0] * 20
    tl = timeline(counts, [1 if c else 0 for c in counts], step=30.0, session=None)
    planned = session("S09", minutes=30, start=T0 - timedelta(hours=2))
    found = unscheduled(tl, [planned], min_unscheduled_s=600.0, min_unscheduled_people=3)
    assert len(found) == 1
    c = found[0]
    assert c.camera_id == "cam01" and c.session_id is None
    assert abs((c.start - (T0 + timedelta(minutes=10))).total_seconds()) <= 1
    assert abs((c.end - (T0 + timedelta(minutes=30))).total_seconds()) <= 1
    assert c.details["people"] == 4 and c.details["nearest_session"] == "S09"


def test_too_few_people_or_too_short_is_not_an_exam():
    counts = [0] * 20 + [2] * 40 + [0] * 20
    tl = timeline(counts, [0] * 80, step=30.0, session=None)
    assert not unscheduled(tl, [], min_unscheduled_s=600.0, min_unscheduled_people=3)
    short = [0] * 20 + [5] * 10 + [0] * 20  # 5 min
    tl = timeline(short, [0] * 50, step=30.0, session=None)
    assert not unscheduled(tl, [], min_unscheduled_s=600.0, min_unscheduled_people=3)


def test_rows_inside_a_planned_session_are_not_outside():
    tl = timeline([4] * 120, [1] * 120, step=30.0, session=None)  # one hour
    st = site()
    planned = session("S01", minutes=30, start=T0 + timedelta(minutes=15))
    rest = outside_rows(tl, [SessionContext(planned, st.camera("cam01"), st, ())])
    assert rest.num_rows == 60
    found = unscheduled(rest, [planned], min_unscheduled_s=600.0, min_unscheduled_people=3)
    # the hour around the session: 15 min before, 15 min after, the session itself left out
    assert sorted((c.start, c.end) for c in found) == [
        (T0, T0 + timedelta(minutes=15)),
        (T0 + timedelta(minutes=45), T0 + timedelta(minutes=60)),
    ]


def test_derived_sessions_bridge_short_breaks_and_have_stable_ids():
    counts = [3] * 40 + [0] * 4 + [3] * 40 + [0] * 60 + [2] * 30  # step 30 s
    tl = timeline(counts, [1 if c else 0 for c in counts], step=30.0, session=None)
    st = site(no_schedule_gap_s=300.0, min_unscheduled_s=600.0)
    derived = derive_sessions(tl, st)
    assert [s.session_id for s in derived] == ["cam01-20220315T0800", "cam01-20220315T0912"]
    assert derived[0].scheduled_end - derived[0].scheduled_start == timedelta(minutes=42)
    assert not any(s.planned for s in derived)
    assert derive_sessions(tl, st) == derived  # a re-run derives the same sessions


# --- the samples without their schedule ---------------------------------------------------


@pytest.fixture(scope="module")
def unplanned_scan(sample_centre: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("no_schedule") / "evidence"
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "scan", str(sample_centre), "--no-schedule",
         "--out", str(out), "--workers", "2", "--no-clips"],
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sessions derived from the recordings" in done.stderr
    return out


def _t(v) -> float:
    return (datetime.fromisoformat(v) if isinstance(v, str) else v).timestamp()


def test_without_a_plan_every_picture_finding_is_still_found(sample_centre, unplanned_scan):
    truth = json.loads((sample_centre / "ground_truth.json").read_text())
    events = pq.read_table(unplanned_scan / "events.parquet").to_pylist()
    picture = ("black_screen", "frozen_video", "view_changed", "looped_footage", "clock_jump")
    missed = [
        f
        for f in truth["findings"]
        if f["kind"] in picture
        and not any(
            e["kind"] == f["kind"]
            and e["camera_id"] == f["camera_id"]
            and abs(_t(e["start"]) - _t(f["start"])) <= 2
            and abs(_t(e["end"]) - _t(f["end"])) <= 2
            for e in events
        )
    ]
    assert not missed, missed
    manifest = json.loads((unplanned_scan / "manifest.json").read_text())
    assert manifest["inputs"]["no_schedule"] is True
    html = (unplanned_scan / "report" / "index.html").read_text(encoding="utf-8")
    assert 'id="no-plan"' in html


def test_without_a_plan_sessions_follow_the_people_in_the_recordings(sample_centre, unplanned_scan):
    """Every stretch of recording with people (a planned session's files, the exam outside
    the plan) is one derived session whose ends are the recording's within 5 s; an empty
    room gives none."""
    truth = json.loads((sample_centre / "ground_truth.json").read_text())
    files = {r["path"]: r for r in pq.read_table(unplanned_scan / "files.parquet").to_pylist()}
    derived = pq.read_table(unplanned_scan / "sessions.parquet").to_pylist()
    expected = [
        (facts["camera_id"], facts["files"])
        for facts in [*truth["sessions"].values(), *truth["unplanned"].values()]
        if facts.get("people", True)
    ]
    expected = [(cam, [files[n] for n in names if n in files]) for cam, names in expected]
    expected = [(cam, fs) for cam, fs in expected if fs]
    assert len(derived) == len(expected)
    for cam, fs in expected:
        a = min(_t(f["start"]) for f in fs)
        b = max(_t(f["end"]) for f in fs)
        match = [
            s
            for s in derived
            if s["camera_id"] == cam
            and abs(_t(s["scheduled_start"]) - a) <= 5
            and abs(_t(s["scheduled_end"]) - b) <= 5
        ]
        assert len(match) == 1, (cam, a % 86400, b % 86400)
        assert match[0]["planned"] is False
    empty = [f for f in truth["sessions"].values() if not f["people"]]
    assert empty
    for facts in empty:
        f = files[facts["files"][0]]
        assert not any(
            s["camera_id"] == facts["camera_id"]
            and _t(s["scheduled_start"]) < _t(f["end"])
            and _t(f["start"]) < _t(s["scheduled_end"])
            for s in derived
        )


def test_outside_rows_on_many_cameras_and_overlapping_sessions():
    """The vectorised cut against the rule it implements, row by row: a row is outside when
    no session of its own camera has start <= t < end (overlapping sessions, a session
    starting on a row, a camera without sessions, rows out of order)."""
    import numpy as np

    from pipeline.unscheduled import merged

    rng = np.random.default_rng(3)
    st = site()
    rows = []
    for cam in ("cam01", "cam02", "cam03"):
        tl = timeline([1] * 200, [0] * 200, step=15.0, camera=cam, session=None)
        rows.append(tl)
    table = pa.concat_tables(rows)
    table = table.take(rng.permutation(table.num_rows))
    sessions = [
        replace_camera(session("A", minutes=10, start=T0 + timedelta(minutes=5)), "cam01"),
        replace_camera(session("B", minutes=10, start=T0 + timedelta(minutes=12)), "cam01"),
        replace_camera(session("C", minutes=1, start=T0 + timedelta(seconds=30)), "cam02"),
        replace_camera(session("D", minutes=20, start=T0 + timedelta(minutes=40)), "cam02"),
    ]
    ctxs = [SessionContext(s, st.camera(s.camera_id), st, ()) for s in sessions]
    rest = outside_rows(table, ctxs)
    expected = [
        (cam, t)
        for cam, t in zip(table["camera_id"].to_pylist(), table["t"].to_pylist(), strict=True)
        if not any(
            s.camera_id == cam and s.scheduled_start <= t < s.scheduled_end for s in sessions
        )
    ]
    got = list(zip(rest["camera_id"].to_pylist(), rest["t"].to_pylist(), strict=True))
    assert got == expected
    assert 0 < len(got) < table.num_rows
    assert (("cam02", T0 + timedelta(seconds=30))) not in got  # on a session's start: inside
    assert (("cam02", T0 + timedelta(seconds=90))) in got  # on its end: outside
    # one row per camera and time after merging a table with itself
    both = merged(rest, [rest])
    assert both.num_rows == rest.num_rows
    pairs = zip(both["camera_id"].to_pylist(), both["t"].to_pylist(), strict=True)
    assert sorted(pairs) == sorted(got)


def replace_camera(s: ExamSession, camera_id: str) -> ExamSession:
    from dataclasses import replace

    return replace(s, camera_id=camera_id)
