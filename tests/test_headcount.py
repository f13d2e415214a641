"""Head counts against the schedule on hand-written timelines: proctor_understaffed,
candidate_count_mismatch, the sessions' robust counts, and the settings at the edge."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import schemas  # noqa: E402
from pipeline.errors import InputError  # noqa: E402
from pipeline.findings import SessionContext  # noqa: E402
from pipeline.findings.headcount import (  # noqa: E402
    CandidateCountFinder,
    ProctorUnderstaffedFinder,
    robust_count,
    session_headcount_stats,
)
from pipeline.inputs.config import Camera, Rules, Site, load_site  # noqa: E402
from pipeline.records import ExamSession  # noqa: E402

T0 = datetime(2022, 3, 15, 0, 0, tzinfo=UTC)
STEP = 2.0
SEATS = ((0.0, 0.6), (1.0, 0.6), (1.0, 1.0), (0.0, 1.0))


def _site(seats=SEATS, **rules) -> Site:
    extra = tuple(sorted((k, v) for k, v in rules.items() if k not in ("min_gap_s",)))
    return Site(rules=Rules(extra=extra), cameras={"cam": Camera("cam", candidate_zone=seats)})


def _ctx(proctors=2, candidates=4, duration_s=600.0, site=None) -> SessionContext:
    site = site or _site(min_understaffed_s=60.0)
    session = ExamSession(
        "S1",
        "C",
        "R",
        "cam",
        "theory",
        "x",
        T0,
        T0 + timedelta(seconds=duration_s),
        candidates,
        proctors,
    )
    return SessionContext(session, site.camera("cam"), site, ())


def _timeline(t_s, **cols) -> pa.Table:
    data = {"t": pa.array([T0 + timedelta(seconds=float(s)) for s in t_s], schemas.TS)}
    for name, values in cols.items():
        data[name] = pa.array([int(v) for v in values], pa.int16())
    data["source_file"] = pa.array(["a.mp4"] * len(t_s))
    return pa.table(data)


def _secs(e) -> tuple[float, float]:
    return (e.start - T0).total_seconds(), (e.end - T0).total_seconds()


def test_robust_count_is_the_count_seen_in_at_least_half_the_samples():
    assert robust_count(np.array([])) is None
    assert robust_count(np.array([4, 4, 3, 4, 0])) == 4  # a miss and a bad sample: still 4
    assert robust_count(np.array([1, 1, 2, 2])) == 2  # two in half of the samples
    assert robust_count(np.array([1, 1, 1, 2])) == 1
    assert robust_count(np.array([0, 1, 2])) == 1


def test_understaffed_found_when_one_of_two_is_there():
    t = np.arange(0, 600, STEP)
    n = np.full(len(t), 2)
    n[(t >= 100) & (t < 300)] = 1  # one invigilator for 200 s
    n[(t >= 400) & (t < 440)] = 1  # 40 s: under the 60 s rule
    n[[180 // 2, 181 // 2 + 1]] = 2  # a brief second detection does not split the run
    n[[10, 11]] = 0  # 4 s nobody at all: not understaffed for the rule
    events = ProctorUnderstaffedFinder()(_timeline(t, persons_in_proctor_zone=n), _ctx())
    assert [_secs(e) for e in events] == [(99.0, 299.0)]
    d = events[0].details
    assert (d["proctors_required"], d["proctors_seen"], d["most_seen"]) == (2, 1, 2)
    assert d["samples"] == 100 and d["samples_fully_staffed"] == 2
    assert events[0].kind == "proctor_understaffed" and 0.9 < events[0].confidence < 1.0
    # the rule is a setting: 30 s also reports the 40 s stretch
    ctx = _ctx(site=_site(min_understaffed_s=30.0))
    events = ProctorUnderstaffedFinder()(_timeline(t, persons_in_proctor_zone=n), ctx)
    assert [_secs(e) for e in events] == [(99.0, 299.0), (399.0, 439.0)]


def test_understaffed_needs_two_required_and_counts_an_empty_zone():
    t = np.arange(0, 600, STEP)
    one = np.ones(len(t), int)
    tl = _timeline(t, persons_in_proctor_zone=one)
    assert ProctorUnderstaffedFinder()(tl, _ctx(proctors=1)) == []  # proctor_absent's job
    assert ProctorUnderstaffedFinder()(tl, _ctx(proctors=0)) == []
    # three required, two there all session, nobody for a while: one run over the session
    two = np.where((t >= 200) & (t < 260), 0, 2)
    events = ProctorUnderstaffedFinder()(_timeline(t, persons_in_proctor_zone=two), _ctx(3))
    assert [_secs(e) for e in events] == [(0.0, 600.0)]
    assert events[0].details["proctors_seen"] == 2
    # fully staffed: nothing
    full = _timeline(t, persons_in_proctor_zone=np.full(len(t), 2))
    assert ProctorUnderstaffedFinder()(full, _ctx()) == []


def test_understaffed_leaves_out_unusable_picture():
    t = np.arange(0, 600, STEP)
    n = np.where(t < 200, 2, 1)
    tl = _timeline(t, persons_in_proctor_zone=n)
    black = [((T0 + timedelta(seconds=200)).timestamp(), (T0 + timedelta(seconds=600)).timestamp())]
    assert ProctorUnderstaffedFinder()(tl, _ctx(), excluded=black) == []
    assert len(ProctorUnderstaffedFinder()(tl, _ctx(), excluded=[])) == 1


def test_candidate_count_mismatch_with_both_numbers():
    t = np.arange(0, 600, STEP)
    rng = np.random.default_rng(0)
    seen = np.full(len(t), 2)
    seen[rng.choice(len(t), 40, replace=False)] = 3  # a walker passing through, now and then
    seen[rng.choice(len(t), 40, replace=False)] = 1  # a candidate hidden, now and then
    tl = _timeline(t, persons_in_candidate_zone=seen)
    ctx = _ctx(candidates=4, site=_site(candidate_count_tolerance=0.2))
    events = CandidateCountFinder()(tl, ctx)
    assert [_secs(e) for e in events] == [(0.0, 600.0)]
    d = events[0].details
    assert (d["candidates_scheduled"], d["candidates_seen"], d["difference"]) == (4, 2, -2)
    assert d["share_of_roster"] == 0.5 and d["samples"] == 300
    assert sum(d["samples_by_count"].values()) == 300
    assert events[0].confidence == 1.0  # every sample is off by more than one in five
    # the roster agrees: nothing; within the tolerance: nothing
    assert CandidateCountFinder()(tl, _ctx(candidates=2)) == []
    loose = _ctx(candidates=3, site=_site(candidate_count_tolerance=0.34))
    assert CandidateCountFinder()(tl, loose) == []
    strict = _ctx(candidates=3, site=_site(candidate_count_tolerance=0.3))
    assert CandidateCountFinder()(tl, strict)[0].details["difference"] == -1
    # more people than the roster is a mismatch too (an empty roster tolerates nobody)
    assert CandidateCountFinder()(tl, _ctx(candidates=0))[0].details["share_of_roster"] is None


def test_candidate_count_needs_a_zone_and_samples():
    t = np.arange(0, 600, STEP)
    tl = _timeline(t, persons_in_candidate_zone=np.zeros(len(t)))
    no_zone = _ctx(site=_site(seats=None))
    assert CandidateCountFinder()(tl, no_zone) == []
    assert CandidateCountFinder()(_timeline(t[:3], persons_in_candidate_zone=[0] * 3), _ctx()) == []
    nulls = pa.table({"t": tl["t"], "persons_in_candidate_zone": pa.nulls(len(t), pa.int16())})
    assert CandidateCountFinder()(nulls, _ctx()) == []
    # an empty room against a roster of four
    assert CandidateCountFinder()(tl, _ctx())[0].details["candidates_seen"] == 0


def _boxes(n_samples: int, boxes: list[tuple[float, float, float, float]], moving) -> pa.Array:
    rows = []
    for i in range(n_samples):
        rows.append(
            [
                dict(x1=b[0], y1=b[1], x2=b[2], y2=b[3], score=0.9, motion=moving(i, k))
                for k, b in enumerate(boxes)
            ]
        )
    return pa.array(rows, schemas.PERSON_BOXES)


def test_a_poster_in_the_candidate_zone_is_nobody():
    """Three seated candidates who move and a poster that never does: three, not four."""
    t = np.arange(0, 600, STEP)
    seats = [(0.05, 0.5, 0.15, 0.8), (0.3, 0.5, 0.4, 0.8), (0.6, 0.5, 0.7, 0.8)]
    poster = (0.85, 0.45, 0.95, 0.9)
    boxes = _boxes(len(t), [*seats, poster], lambda i, k: 0.0 if k == 3 else 0.05 * (i % 3 > 0))
    tl = _timeline(t, persons_in_candidate_zone=np.full(len(t), 4))
    tl = tl.append_column("person_boxes", boxes)
    ctx = _ctx(candidates=4, site=_site(candidate_count_tolerance=0.2))
    events = CandidateCountFinder()(tl, ctx)
    assert events and events[0].details["candidates_seen"] == 3
    assert events[0].details["static_lookalikes_ignored"][0]["box"] == list(poster)
    assert session_headcount_stats(tl, ctx)["candidates_seen"] == 3


def test_session_headcount_stats():
    t = np.arange(0, 600, STEP)
    tl = _timeline(
        t,
        persons_in_proctor_zone=np.where(t < 400, 1, 2),
        persons_in_candidate_zone=np.where(t < 100, 0, 4),
    )
    assert session_headcount_stats(tl, _ctx()) == {"proctors_seen": 1, "candidates_seen": 4}
    no_zone = _ctx(site=_site(seats=None))
    assert session_headcount_stats(tl, no_zone) == {"proctors_seen": 1, "candidates_seen": None}
    empty = _timeline([], persons_in_proctor_zone=[], persons_in_candidate_zone=[])
    nothing = {"proctors_seen": None, "candidates_seen": None}
    assert session_headcount_stats(empty, _ctx()) == nothing


def _site_toml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_site_settings_and_candidate_zone_at_the_edge(tmp_path):
    site = load_site(
        _site_toml(
            tmp_path,
            "[rules]\nmin_understaffed_s = 90\ncandidate_count_tolerance = 0.1\n"
            "[cameras.cam01]\ncandidate_zone = [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]\n",
        )
    )
    assert site.rules.value("min_understaffed_s") == 90.0
    assert site.rules.value("candidate_count_tolerance") == 0.1
    assert site.camera("cam01").candidate_zone == ((0, 0.5), (1, 0.5), (1, 1), (0, 1))
    assert site.camera("cam02").candidate_zone is None
    assert Rules().value("min_understaffed_s") == 300.0
    assert Rules().value("candidate_count_tolerance") == 0.2
    bad = {
        "[rules]\nmin_understaffed_s = -1\n": "rules.min_understaffed_s",
        "[rules]\nmin_understaffed_s = 'long'\n": "rules.min_understaffed_s",
        "[rules]\ncandidate_count_tolerance = 1.5\n": "rules.candidate_count_tolerance",
        "[cameras.c]\ncandidate_zone = [[0, 0], [1, 0]]\n": "cameras.c.candidate_zone",
        "[cameras.c]\ncandidate_zone = [[0, 0], [1, 0], [1, 2]]\n": "cameras.c.candidate_zone[2]",
        "[cameras.c]\ncandidate_zones = [[0, 0], [1, 0], [1, 1]]\n": "cameras.c.candidate_zones",
    }
    for body, key in bad.items():
        with pytest.raises(InputError) as err:
            load_site(_site_toml(tmp_path, body))
        assert key in str(err.value), (body, str(err.value))


def test_a_poster_in_the_proctor_zone_is_not_a_second_invigilator():
    """Two required, one invigilator moving about and a motionless person-shaped poster in the
    proctor zone: understaffed, not staffed; the finding says what was left out."""
    t = np.arange(0, 600, STEP)
    person, poster = (0.3, 0.2, 0.4, 0.7), (0.7, 0.1, 0.8, 0.6)
    boxes = _boxes(len(t), [person, poster], lambda i, k: 0.0 if k == 1 else 0.04 * (i % 2))
    tl = _timeline(t, persons_in_proctor_zone=np.full(len(t), 2))
    tl = tl.append_column("person_boxes", boxes)
    events = ProctorUnderstaffedFinder()(tl, _ctx())
    assert [_secs(e) for e in events] == [(0.0, 600.0)]
    assert events[0].details["proctors_seen"] == 1
    assert events[0].details["static_lookalikes_ignored"][0]["box"] == list(poster)
    assert session_headcount_stats(tl, _ctx())["proctors_seen"] == 1
