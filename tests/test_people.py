"""People analysis: detection on real footage, zone signals, station motion, findings, audio.

The real-footage test runs the default detector on the MOT15 clips with ground truth; the
finder tests feed hand-written timelines (the findings are pure functions of the timeline).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.detectors import Detections  # noqa: E402
from pipeline.findings import SessionContext  # noqa: E402
from pipeline.findings.people import (  # noqa: E402
    ProctorAbsenceFinder,
    QaSubstitutionFinder,
    session_people_stats,
)
from pipeline.inputs.config import Analysis, Camera, Rules, Site  # noqa: E402
from pipeline.media.frames import FrameBatch  # noqa: E402
from pipeline.records import ExamSession, FileProbe  # noqa: E402
from pipeline.signals import AnalysisContext  # noqa: E402
from pipeline.signals.people import PeopleSignals  # noqa: E402
from pipeline.signals.station import StationSignals  # noqa: E402

MOTION_ACTIVE = Rules().value("station_motion_active")  # the station check's default

T0 = datetime(2022, 3, 15, 0, 0, tzinfo=UTC)
STATION = ((0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.5, 1.0))
STEP = 2.0


# -- real footage ----------------------------------------------------------------------------


def test_default_detector_finds_people_in_real_footage(real_data):
    """Person present per frame: recall >= 0.95 on both clips at the default analysis width
    (every frame of TUD-Campus, every third of TUD-Stadtmitte, to keep the test short)."""
    from benchmarks.eval_people import Score, empty_scene_false_rate, evaluate_clip
    from pipeline.detectors import make_detector

    det = make_detector("auto")
    width = Analysis().width
    total = Score()
    for clip, step in (("TUD-Campus", 1), ("TUD-Stadtmitte", 3)):
        score = evaluate_clip(det, clip, width, real_data, step=step)
        r = score.summary()
        assert r["present_recall"] >= 0.95, (det.name, clip, r)
        # an empty view of the same scene (ground-truth people removed) raises no presence
        assert empty_scene_false_rate(det, clip, width, real_data, n=8) <= 0.125, (det.name, clip)
        total.add(score)
    # box quality floors, well under the measured values (see benchmarks/eval_people.py)
    r = total.summary()
    assert r["recall"] >= 0.5 and r["precision"] >= 0.6, r


# -- signals ---------------------------------------------------------------------------------


class FixedDetector:
    """Returns the same boxes for every frame: exercises zone counting, not detection."""

    name = "fixed"
    reason = "test"

    def __init__(self, det: Detections):
        self.det = det

    def detect(self, frames):
        return [self.det] * len(frames)


def _batch(frames: np.ndarray, prev: np.ndarray | None = None) -> FrameBatch:
    return FrameBatch("f.mp4", np.arange(len(frames)) * STEP, frames, (640, 360), prev=prev)


def test_people_signals_count_zones_by_anchor():
    # A stands in the station (feet and centre inside), B's feet are in it but not his centre,
    # C stands in the proctor zone, D is a car (class 2) and never counts
    det = Detections(
        [[0.6, 0.6, 0.8, 0.9], [0.45, 0.1, 0.65, 0.8], [0.1, 0.2, 0.3, 0.7], [0, 0, 0.1, 0.1]],
        [0.9, 0.8, 0.7, 0.9],
        [0, 0, 0, 2],
    )
    cam = Camera("c", proctor_zone=((0, 0), (0.5, 0), (0.5, 1), (0, 1)), station_zone=STATION)
    frames = np.zeros((3, 36, 64, 3), np.uint8)
    for anchor, in_station, in_proctor in (("bottom_center", 2, 1), ("center", 1, 1)):
        ctx = AnalysisContext(cam, Rules(), Analysis(person_anchor=anchor), FixedDetector(det))
        out = PeopleSignals()(_batch(frames), ctx)
        assert out["persons"].dtype == np.int16 and out["persons"].tolist() == [3, 3, 3]
        assert out["persons_in_station_zone"].tolist() == [in_station] * 3
        assert out["persons_in_proctor_zone"].tolist() == [in_proctor] * 3


def test_people_signals_default_detector_is_ssdlite_and_empty_batch():
    sig = PeopleSignals()
    ctx = AnalysisContext(Camera("c"), Rules(), Analysis())
    out = sig(_batch(np.full((2, 120, 160, 3), 100, np.uint8)), ctx)
    assert out["persons"].tolist() == [0, 0] and sig.detector(ctx).name == "ssdlite"
    empty = sig(_batch(np.zeros((0, 120, 160, 3), np.uint8)), ctx)
    assert all(len(v) == 0 for v in empty.values())


def test_station_motion_inside_zone_only():
    rng = np.random.default_rng(0)
    base = rng.integers(60, 200, (90, 160, 3)).astype(np.uint8)
    frames = []
    for i in range(7):
        f = np.clip(base.astype(np.int16) + rng.integers(-3, 4, base.shape), 0, 255)
        f = f.astype(np.uint8)
        if i in (2, 3):  # a hand/tool moves inside the station zone (right half, lower half)
            f[55 + 5 * i : 75 + 5 * i, 100 + 10 * i : 130 + 10 * i] = 250
        if i == 5:  # someone walks past outside the zone (top left)
            f[5:40, 10:40] = 0
        if i == 6:  # the lights dim: a global change is not activity
            f = (f * 0.85).astype(np.uint8)
        frames.append(f)
    frames = np.stack(frames)
    ctx = AnalysisContext(Camera("c", station_zone=STATION), Rules(), Analysis())
    m = StationSignals()(_batch(frames), ctx)["station_motion"]
    assert m.dtype == np.float32 and np.isnan(m[0])  # no predecessor for the first sample
    assert (m[2:5] > 5 * MOTION_ACTIVE).all()  # tool appears, moves, leaves
    assert m[1] < MOTION_ACTIVE and m[5] < MOTION_ACTIVE and m[6] < MOTION_ACTIVE
    with_prev = StationSignals()(_batch(frames[1:3], prev=frames[0]), ctx)["station_motion"]
    assert with_prev[0] < MOTION_ACTIVE and with_prev[1] > 5 * MOTION_ACTIVE
    none = StationSignals()(_batch(frames), AnalysisContext(Camera("c"), Rules(), Analysis()))
    assert np.isnan(none["station_motion"]).all()


def test_hands_on_needs_motion_around_a_person_in_the_station():
    """A static false detection (HOG on a cabinet) next to motion elsewhere in the zone (a
    person walking off) is not hands-on work; motion around a person at the station is."""
    rng = np.random.default_rng(1)
    base = rng.integers(60, 200, (90, 160, 3)).astype(np.uint8)
    frames = np.stack([base.copy() for _ in range(4)])
    frames[1, 50:80, 85:95] = 255  # by the worker (x 0.5-0.62): appears, then goes (2 samples)
    frames[3, 50:80, 140:150] = 255  # far right of the zone, away from both boxes
    worker = [0.50, 0.45, 0.62, 0.95]
    cabinet_fp = [0.78, 0.55, 0.84, 0.75]
    cam = Camera("c", station_zone=STATION)
    for boxes, expected in (([worker, cabinet_fp], [1, 1, 0]), ([cabinet_fp], [0, 0, 0])):
        det = Detections(boxes, [1.0] * len(boxes), [0] * len(boxes))
        ctx = AnalysisContext(cam, Rules(), Analysis(), FixedDetector(det))
        out = PeopleSignals()(_batch(frames), ctx)
        assert np.isnan(out["station_hands_on"][0])  # no predecessor
        assert out["station_hands_on"][1:].tolist() == expected
        assert out["persons_in_station_zone"].tolist() == [len(boxes)] * 4
    no_zone = AnalysisContext(Camera("c"), Rules(), Analysis(), FixedDetector(det))
    assert np.isnan(PeopleSignals()(_batch(frames), no_zone)["station_hands_on"]).all()


# -- findings on hand-written timelines ------------------------------------------------------


def _site(**rules) -> Site:
    base = {"min_proctor_absence_s": 30.0, "min_station_idle_s": 60.0}
    cams = {"cam": Camera("cam", station_zone=STATION)}
    return Site(rules=Rules(**{**base, **rules}), cameras=cams)


def _ctx(exam_type="theory", duration_s=300.0, site=None, probes=()) -> SessionContext:
    site = site or _site()
    session = ExamSession(
        "S1", "C", "R", "cam", exam_type, "x", T0, T0 + timedelta(seconds=duration_s), 2, 1
    )
    return SessionContext(session, site.camera("cam"), site, tuple(probes))


def _timeline(t_s, **cols) -> pa.Table:
    t_s = np.asarray(t_s, float)
    data = {
        "t": pa.array([T0 + timedelta(seconds=float(s)) for s in t_s], pa.timestamp("ms", "UTC"))
    }
    types = {"station_motion": pa.float32(), "source_file": pa.string()}
    for name, values in cols.items():
        typ = types.get(name, pa.int16())
        if isinstance(values, pa.Array):
            data[name] = values
            continue
        vals = list(values) if not np.isscalar(values) else [values] * len(t_s)
        vals = [None if isinstance(v, float) and np.isnan(v) else v for v in vals]
        data[name] = pa.array(vals, typ)
    data.setdefault("source_file", pa.array(["a.mp4"] * len(t_s)))
    return pa.table(data)


def _secs(e) -> tuple[float, float]:
    return (e.start - T0).total_seconds(), (e.end - T0).total_seconds()


def test_absence_found_with_boundaries_and_not_for_brief_misses():
    t = np.arange(0, 300, STEP)
    inzone = np.ones(len(t), int)
    inzone[(t >= 100) & (t < 160)] = 0  # 60 s absence
    inzone[[10, 11, 40]] = 0  # brief misses (4 s and 2 s): never an absence
    inzone[(t >= 200) & (t < 220)] = 0  # 20 s: under the 30 s rule
    events = ProctorAbsenceFinder()(_timeline(t, persons_in_proctor_zone=inzone), _ctx())
    assert [_secs(e) for e in events] == [(99.0, 159.0)]  # midway between samples
    e = events[0]
    assert e.kind == "proctor_absent" and e.confidence == 1.0 and e.source_file == "a.mp4"
    assert e.details["samples"] == 30 and e.details["threshold_s"] == 30.0


def test_false_positive_blip_does_not_split_an_absence():
    t = np.arange(0, 300, STEP)
    inzone = np.ones(len(t), int)
    inzone[(t >= 60) & (t < 140)] = 0
    inzone[[45, 46]] = 1  # two samples (90-94 s) of a spurious detection mid-absence
    events = ProctorAbsenceFinder()(_timeline(t, persons_in_proctor_zone=inzone), _ctx())
    assert [_secs(e) for e in events] == [(59.0, 139.0)]
    assert 0.9 < events[0].confidence < 1.0
    # a real return (20 s in the room) does end it: two absences
    inzone[(t >= 90) & (t < 110)] = 1
    events = ProctorAbsenceFinder()(_timeline(t, persons_in_proctor_zone=inzone), _ctx())
    assert [_secs(e) for e in events] == [(59.0, 89.0), (109.0, 139.0)]


def test_absence_runs_to_session_end_and_stops_at_recording_gaps():
    t = np.concatenate([np.arange(0, 100, STEP), np.arange(160, 300, STEP)])  # 60 s gap
    inzone = np.where(t >= 70, 0, 1)
    events = ProctorAbsenceFinder()(_timeline(t, persons_in_proctor_zone=inzone), _ctx())
    # 69-100 before the gap (31 s: reported), 160-300 after it; the gap itself is not absence;
    # a boundary at missing video or at the session's end is not moved
    assert [_secs(e) for e in events] == [(69.0, 100.0), (160.0, 300.0)]
    # samples outside the scheduled window are ignored
    events = ProctorAbsenceFinder()(
        _timeline(t, persons_in_proctor_zone=inzone), _ctx(duration_s=200)
    )
    assert [_secs(e) for e in events] == [(69.0, 100.0), (160.0, 200.0)]


def test_absence_ignores_unanalysed_samples_and_missing_columns():
    t = np.arange(0, 100, STEP)
    assert ProctorAbsenceFinder()(_timeline(t, persons=1), _ctx()) == []
    nulls = _timeline(t, persons_in_proctor_zone=pa.nulls(len(t), pa.int16()).to_pylist())
    assert ProctorAbsenceFinder()(nulls, _ctx()) == []
    assert ProctorAbsenceFinder()(_timeline([], persons_in_proctor_zone=[]), _ctx()) == []


def _practical(t, persons, in_station, motion):
    return _timeline(t, persons=persons, persons_in_station_zone=in_station, station_motion=motion)


def test_qa_substitution_found_when_nobody_works_at_the_station():
    t = np.arange(0, 300, STEP)
    in_station = np.where(t < 100, 1, 0)  # a candidate works at the station, then sits down
    motion = np.where(t < 100, 0.05, 0.0).astype(np.float32)
    motion[[0, 7, 20]] = [np.nan, 0.0, 0.0]  # pauses while working: still hands-on
    tl = _practical(t, 2, in_station, motion)
    events = QaSubstitutionFinder()(tl, _ctx("practical"))
    assert [_secs(e) for e in events] == [(99.0, 300.0)]
    e = events[0]
    assert e.kind == "qa_substitution" and e.details["share_people_present"] == 1.0
    assert "speech_ratio" not in e.details  # no file with sound
    stats = session_people_stats(tl, _ctx("practical"))
    assert stats["station_activity"] == pytest.approx(48 / 150, abs=0.02)


def test_qa_uses_per_person_hands_on_when_the_timeline_has_it():
    t = np.arange(0, 300, STEP)
    # the zone moves (someone passes) and a detection sits in it, but nobody's hands move
    tl = _timeline(t, persons=2, persons_in_station_zone=1, station_motion=0.05, station_hands_on=0)
    events = QaSubstitutionFinder()(tl, _ctx("practical"))
    assert [_secs(e) for e in events] == [(0.0, 300.0)]
    assert "around a person" in events[0].details["hands_on_test"]
    working = _timeline(
        t, persons=2, persons_in_station_zone=1, station_motion=0.0, station_hands_on=1
    )
    assert QaSubstitutionFinder()(working, _ctx("practical")) == []


def test_qa_not_found_for_theory_hands_on_or_empty_room():
    t = np.arange(0, 300, STEP)
    idle = _practical(t, 2, 0, 0.0)
    assert QaSubstitutionFinder()(idle, _ctx("theory")) == []
    no_zone = _site()
    no_zone = Site(rules=no_zone.rules, cameras={"cam": Camera("cam")})
    assert QaSubstitutionFinder()(idle, _ctx("practical", site=no_zone)) == []
    working = _practical(t, 1, 1, 0.04)
    assert QaSubstitutionFinder()(working, _ctx("practical")) == []
    # someone sits in the station without touching anything: that is not hands-on work
    sitting = _practical(t, 1, 1, 0.001)
    assert len(QaSubstitutionFinder()(sitting, _ctx("practical"))) == 1
    empty_room = _practical(t, 0, 0, 0.0)
    assert QaSubstitutionFinder()(empty_room, _ctx("practical")) == []


def test_session_stats():
    t = np.arange(0, 300, STEP)
    inzone = np.where((t >= 100) & (t < 190), 0, 1)
    tl = _timeline(t, persons_in_proctor_zone=inzone, persons=inzone)
    stats = session_people_stats(tl, _ctx())
    assert stats["proctor_presence"] == pytest.approx(0.7)
    assert stats["longest_proctor_absence_s"] == pytest.approx(90.0)
    assert stats["station_activity"] is None  # theory
    assert session_people_stats(_timeline([], persons=[]), _ctx()) == {
        "proctor_presence": None,
        "longest_proctor_absence_s": None,
        "station_activity": None,
    }


# -- audio -----------------------------------------------------------------------------------


def _voiced(seconds: float, rate: int = 16000) -> np.ndarray:
    """A synthetic voiced signal: a gliding pitch with formant-shaped harmonics, syllable
    bursts at 3 Hz. Not real speech (none is available offline); WebRTC's VAD calls it speech."""
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(120 + 30 * np.sin(2 * np.pi * 0.7 * t)) / rate
    x = sum(
        (np.exp(-(((k * 130 - 700) / 300) ** 2)) + 0.5 * np.exp(-(((k * 130 - 1200) / 300) ** 2)))
        * np.sin(k * phase)
        for k in range(1, 30)
    )
    x = x / np.abs(x).max() * np.clip(np.sin(2 * np.pi * 3 * t), 0, None)
    return (0.6 * x * 32767).astype(np.int16)


def _write_av(path: Path, pcm: np.ndarray | None, seconds: float, rate: int = 16000) -> Path:
    import av

    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=5)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.codec_context.options = {"preset": "ultrafast"}
        a = None
        if pcm is not None:
            a = out.add_stream("aac", rate=rate, layout="mono")
        for i in range(int(seconds * 5)):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 80, np.uint8), format="bgr24")
            f.pts = i
            out.mux(v.encode(f))
        out.mux(v.encode())
        if a is not None:
            for i in range(0, len(pcm), 1024):
                chunk = pcm[i : i + 1024]
                fr = av.AudioFrame.from_ndarray(chunk[None, :], format="s16", layout="mono")
                fr.sample_rate, fr.pts, fr.time_base = rate, i, Fraction(1, rate)
                out.mux(a.encode(fr))
            out.mux(a.encode())
    return path


@pytest.fixture(scope="module")
def talk_clip(tmp_path_factory) -> Path:
    """6 s: 3 s of silence, then 3 s of the synthetic voiced signal."""
    pcm = np.concatenate([np.zeros(3 * 16000, np.int16), _voiced(3.0)])
    return _write_av(tmp_path_factory.mktemp("audio") / "cam_20220315T080000.mp4", pcm, 6.0)


def test_speech_ratio_silence_vs_voiced(talk_clip, tmp_path):
    from pipeline.signals.audio import speech_ratio

    silent = speech_ratio(talk_clip, 0.2, 2.8)
    voiced = speech_ratio(talk_clip, 3.2, 5.8)
    assert silent is not None and silent < 0.1
    assert voiced is not None and voiced > 0.5
    mute = _write_av(tmp_path / "mute.mp4", None, 2.0)
    assert speech_ratio(mute, 0, 2) is None


def test_qa_details_carry_speech_ratio(talk_clip):
    probe = FileProbe(
        path=talk_clip, sha256="", size_bytes=0, camera_id="cam", start=T0, duration_s=6.0,
        container="mp4", codec="h264", width=64, height=48, fps=5.0, keyframe_interval_s=2.0,
        has_audio=True,
    )  # fmt: skip
    t = np.arange(0, 6, 0.5)
    tl = _practical(t, 2, 0, 0.0)
    site = _site(min_station_idle_s=2.0)
    events = QaSubstitutionFinder()(tl, _ctx("practical", 6.0, site, [probe]))
    assert len(events) == 1
    # over 0-6 s: half silence, half voiced
    assert 0.2 < events[0].details["speech_ratio"] < 0.7


def test_no_absence_while_the_picture_is_black():
    """A covered lens hides everyone: that is the black_screen finding, not an absence."""
    t = np.arange(0, 300, STEP)
    dark = (t >= 100) & (t < 160)
    inzone = np.where(dark, 0, 1)
    tl = _timeline(
        t,
        persons_in_proctor_zone=inzone,
        brightness=pa.array(np.where(dark, 4.0, 120.0), pa.float32()),
        contrast=pa.array(np.where(dark, 1.0, 40.0), pa.float32()),
        t_file_s=pa.array(t, pa.float64()),
    )
    assert ProctorAbsenceFinder()(tl, _ctx()) == []
    # the same timeline with a lit picture: the absence is found
    lit = tl.set_column(
        tl.schema.get_field_index("brightness"),
        "brightness",
        pa.array([120.0] * len(t), pa.float32()),
    )
    lit = lit.set_column(
        lit.schema.get_field_index("contrast"), "contrast", pa.array([40.0] * len(t), pa.float32())
    )
    assert [_secs(e) for e in ProctorAbsenceFinder()(lit, _ctx())] == [(99.0, 159.0)]


def test_unusable_picture_is_neither_presence_nor_absence():
    """Absent 20 s, then 30 s of frozen picture, then absent 20 s again (rule 30 s): one
    absence over all 70 s, judged on the 40 s seen, with the 30 s in between unverifiable;
    the session records those 30 s. (Before, the frozen stretch cut the absence into two
    pieces under the rule and erased it.)"""
    t = np.arange(0, 300, STEP)
    inzone = np.where((t >= 100) & (t < 170), 0, 1)
    tl = _timeline(t, persons_in_proctor_zone=inzone, persons=inzone)
    frozen = [(T0.timestamp() + 120, T0.timestamp() + 150)]
    events = ProctorAbsenceFinder()(tl, _ctx(), excluded=frozen)
    assert [_secs(e) for e in events] == [(99.0, 169.0)]
    assert events[0].details["unverifiable_s"] == 30.0
    stats = session_people_stats(tl, _ctx(), frozen)
    assert stats["unverifiable_s"] == 30.0
    assert stats["longest_proctor_absence_s"] == pytest.approx(40.0)
    # seen absent for 20 s around it: under the rule, no finding
    short = np.where((t >= 110) & (t < 160), 0, 1)
    tl = _timeline(t, persons_in_proctor_zone=short, persons=short)
    assert ProctorAbsenceFinder()(tl, _ctx(), excluded=frozen) == []
