"""Splice test: real people interleaved with empty stretches of the same scene.

Each real clip (TUD-Campus, TUD-Stadtmitte: pedestrians, MOT ground truth) is looped for the
"people" stretches; the empty stretches show a background plate (the per-pixel median of the
clip over pixels no ground-truth box covers; a man who stands in TUD-Stadtmitte all along is
inpainted) with fresh sensor noise in every frame. The video is encoded with
H.264 and goes through the real pipeline: probe -> sample_chunk -> PeopleSignals (default
detector) -> timeline rows -> ProctorAbsenceFinder, with a 4 s absence threshold so the media
stays short. Expected: one proctor_absent per empty stretch longer than 4 s, boundaries within
±2 s, none for the 2 s stretch and none while people are in view.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.eval_people import background_plate, decode, load_gt, noisy  # noqa: E402
from pipeline.inputs.config import Analysis, Camera, Rules, Site  # noqa: E402
from pipeline.records import ExamSession  # noqa: E402

FPS = 10
SIZE = (320, 240)
THRESHOLD_S = 4.0
SAMPLE_S = 0.5
# (kind, seconds): people stretches loop the real clip; empty ones show the plate
LAYOUT = [
    ("people", 8),
    ("empty", 8),
    ("people", 8),
    ("empty", 2),  # shorter than the threshold: no finding
    ("people", 6),
    ("empty", 6),
    ("people", 6),
]
START = datetime(2022, 3, 15, 0, 30, tzinfo=UTC)


def write_splice(path: Path, real: Path, name: str) -> list[tuple[float, float]]:
    """Encode the spliced video; returns the empty stretches as (start_s, end_s)."""
    import av

    clip, full = decode(real / f"{name}.mp4", SIZE[0])
    plate = background_plate(clip, load_gt(real / f"{name}.gt.txt"), SIZE[0] / full[0])
    rng = np.random.default_rng(7)
    empty: list[tuple[float, float]] = []
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        stream.codec_context.gop_size = FPS
        stream.codec_context.options = {"preset": "ultrafast", "threads": "1", "crf": "23"}
        stream.time_base = Fraction(1, FPS)
        i = k = 0
        for kind, seconds in LAYOUT:
            if kind == "empty":
                empty.append((i / FPS, (i + seconds * FPS) / FPS))
            for _ in range(seconds * FPS):
                if kind == "people":
                    img = clip[k % len(clip)]
                    k += 1
                else:
                    img = noisy(plate, rng)
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
                frame.pts = i
                out.mux(stream.encode(frame))
                i += 1
        out.mux(stream.encode())
    return empty


@pytest.fixture(scope="module", params=["TUD-Campus", "TUD-Stadtmitte"])
def spliced(request, tmp_path_factory, real_data: Path):
    """Run the spliced video through sampling, PeopleSignals and the timeline once."""
    from pipeline.media.probe import probe_file
    from pipeline.media.sampling import Chunk, sample_chunk
    from pipeline.signals import AnalysisContext, run_analysers
    from pipeline.signals.people import PeopleSignals
    from pipeline.tasks import timeline_rows

    path = tmp_path_factory.mktemp("splice") / "cam01_20220315T083000.mp4"
    empty = write_splice(path, real_data, request.param)
    probe = probe_file(path, "cam01", START)
    assert probe.error is None, probe.error
    site = Site(
        rules=Rules(min_proctor_absence_s=THRESHOLD_S),
        analysis=Analysis(sample_every_s=SAMPLE_S),
        cameras={"cam01": Camera("cam01")},
    )
    batch = sample_chunk(path, Chunk(0, 0.0, probe.duration_s), site.analysis, probe)
    assert len(batch) >= 0.9 * probe.duration_s / SAMPLE_S
    ctx = AnalysisContext(camera=site.camera("cam01"), rules=site.rules, analysis=site.analysis)
    columns = run_analysers(batch, ctx, [PeopleSignals()])
    timeline = timeline_rows(probe, batch.t_s, columns)
    return site, probe, timeline, empty, batch.t_s, columns


def _session_ctx(site, probe, exam_type="theory"):
    from pipeline.findings import SessionContext

    session = ExamSession(
        session_id="S01",
        centre_id="C1",
        room_id="R1",
        camera_id="cam01",
        exam_type=exam_type,
        subject="splice",
        scheduled_start=START,
        scheduled_end=START + timedelta(seconds=probe.duration_s),
        candidates=3,
        proctors_required=1,
    )
    return SessionContext(session=session, camera=site.camera("cam01"), site=site, probes=(probe,))


def test_one_absence_per_long_empty_stretch(spliced):
    from pipeline.findings.people import ProctorAbsenceFinder

    site, probe, timeline, empty, _, _ = spliced
    events = ProctorAbsenceFinder()(timeline, _session_ctx(site, probe))
    expected = [(a, b) for a, b in empty if b - a >= THRESHOLD_S]
    found = [((e.start - START).total_seconds(), (e.end - START).total_seconds()) for e in events]
    assert len(found) == len(expected), f"expected {expected}, found {found}"
    for (a, b), (fa, fb) in zip(expected, found, strict=True):
        assert abs(fa - a) <= 2.0 and abs(fb - b) <= 2.0, f"expected {(a, b)}, found {(fa, fb)}"
    for e in events:
        assert e.kind == "proctor_absent" and e.session_id == "S01"
        assert e.source_file == probe.path.name


def test_people_seen_in_people_stretches_not_in_empty_ones(spliced):
    """The per-sample signal itself: people detected while in view, (almost) none on the plate."""
    _, _, _, empty, t_s, columns = spliced
    n = columns["persons_in_proctor_zone"]
    in_empty = np.zeros(len(t_s), bool)
    for a, b in empty:
        in_empty |= (t_s >= a + 0.5) & (t_s < b - 0.5)  # leave the encoder's transition frame
    people = ~in_empty
    for a, b in empty:
        people &= ~((t_s >= a - 0.5) & (t_s < b + 0.5))
    assert (n[people] > 0).mean() >= 0.95
    assert (n[in_empty] > 0).mean() <= 0.05


def test_short_stretch_and_people_give_no_finding_at_higher_threshold(spliced):
    """With the threshold above every empty stretch, nothing is reported."""
    from pipeline.findings.people import ProctorAbsenceFinder, session_people_stats

    site, probe, timeline, empty, _, _ = spliced
    longest = max(b - a for a, b in empty)
    strict = replace(site, rules=replace(site.rules, min_proctor_absence_s=longest + 2.5))
    assert ProctorAbsenceFinder()(timeline, _session_ctx(strict, probe)) == []
    stats = session_people_stats(timeline, _session_ctx(site, probe))
    assert abs(stats["longest_proctor_absence_s"] - longest) <= 2.0
    share_people = 1 - sum(b - a for a, b in empty) / probe.duration_s
    assert abs(stats["proctor_presence"] - share_people) <= 0.08
