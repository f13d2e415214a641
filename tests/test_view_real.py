"""Camera turned away, judged against each camera's usual view: real pictures, whole batches.

Each session is real footage (TUD-Campus / TUD-Stadtmitte: real people walking, played back
and forth) under a slow daylight change over the day (gain 0.7-1.25, a side light that
swings across the room, contrast), sensor noise and H.264 compression. A "turned" camera shows
the same real scene zoomed, shifted, rotated or cropped. The batch goes through the real
stages: probe -> sample_chunk -> analysers -> timeline -> the scan's batch view step ->
ViewChangedFinder -> refine_events. Expected, per camera:

- A: turned (zoomed 1.4x) for the whole of its third session among normal ones;
- B: turned (shifted 15 %) for 20 s inside the first minute of a session;
- C: re-aimed for good (shifted 12 %, rolled 3 degrees) midway through its second session;
- D: a single session, turned (a quadrant, 2x) for its middle third.

Each found within +-2 s, and nothing on the untouched sessions.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.eval_people import decode  # noqa: E402
from pipeline.findings import SessionContext  # noqa: E402
from pipeline.findings.view import ViewChangedFinder  # noqa: E402
from pipeline.inputs.config import Analysis, Camera, Rules, Site  # noqa: E402
from pipeline.records import ExamSession  # noqa: E402

FPS = 4
SIZE = (320, 240)
DAY = datetime(2022, 3, 15, 0, 0, tzinfo=UTC)
SESSION_S = 120.0
DAY_S = 8 * 3600.0


@dataclass(frozen=True)
class Turn:
    """The camera shows ``warp`` from ``start_s`` to ``end_s`` of the session's file."""

    start_s: float
    end_s: float
    zoom: float = 1.0
    dx: float = 0.0
    dy: float = 0.0
    rot: float = 0.0
    centre: tuple[float, float] = (0.5, 0.5)


def warp(img: np.ndarray, t: Turn) -> np.ndarray:
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((t.centre[0] * w, t.centre[1] * h), t.rot, t.zoom)
    m[:, 2] += (t.dx * w, t.dy * h)
    return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def daylight(img: np.ndarray, day_s: float) -> np.ndarray:
    """Morning to afternoon: overall gain, contrast and a side light that swings across."""
    phase = day_s / DAY_S
    gain = 0.7 + 0.55 * np.sin(np.pi * phase)
    side = 0.25 * np.cos(np.pi * phase)  # window light moves from left to right
    w = img.shape[1]
    ramp = (1.0 + side * np.linspace(-1, 1, w, dtype=np.float32))[None, :, None]
    contrast = 0.85 + 0.3 * phase
    f = (img.astype(np.float32) - 128.0) * contrast + 128.0
    return np.clip(f * (gain * ramp), 0, 255)


def write_session(
    path: Path, clip: np.ndarray, seconds: float, day_s: float, turns: list[Turn], seed: int
) -> None:
    """H.264 (crf 26) of the real clip played back and forth, with sensor noise and daylight."""
    import av

    rng = np.random.default_rng(seed)
    pool = rng.normal(0, 3.0, (6, SIZE[1] + 16, SIZE[0] + 16, 3)).astype(np.float32)
    period = 2 * len(clip) - 2
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        stream.codec_context.gop_size = 2 * FPS
        stream.codec_context.options = {"preset": "ultrafast", "threads": "1", "crf": "26"}
        stream.time_base = Fraction(1, FPS)
        for i in range(round(seconds * FPS)):
            t = i / FPS
            k = (i * 3 + seed * 17) % period  # real people walking, back and forth
            img = clip[k if k < len(clip) else period - k]
            for turn in turns:
                if turn.start_s <= t < turn.end_s:
                    img = warp(img, turn)
            dx, dy = rng.integers(0, 16, 2)  # fresh sensor noise: a window of a pre-drawn field
            noise = pool[i % len(pool), dy : dy + SIZE[1], dx : dx + SIZE[0]]
            img = np.clip(daylight(img, day_s + t) + noise, 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


ZOOM = dict(zoom=1.4, centre=(0.3, 0.3))
SHIFT = dict(dx=0.15)
REAIM = dict(dx=-0.12, rot=3.0)
QUADRANT = dict(zoom=2.0, centre=(0.75, 0.7))

# camera -> sessions: (hour of the day, [turns]); expected: (session index, start, end, flags)
PLAN = {
    "camA": [(0.5, []), (2.0, []), (3.5, [Turn(0, SESSION_S, **ZOOM)]), (5.0, []), (6.5, [])],
    "camB": [(1.0, []), (3.0, [Turn(24.0, 44.0, **SHIFT)]), (5.5, [])],
    "camC": [
        (0.8, []),
        (2.5, [Turn(62.0, SESSION_S, **REAIM)]),
        (4.0, [Turn(0, SESSION_S, **REAIM)]),
        (6.0, [Turn(0, SESSION_S, **REAIM)]),
    ],
    "camD": [(2.2, [Turn(50.0, 100.0, **QUADRANT)])],
}
SECONDS = {"camD": 150.0}
EXPECTED = {  # (camera, session index) -> (start_s, end_s, whole_session, persistent)
    ("camA", 2): (0.0, SESSION_S, True, False),
    ("camB", 1): (24.0, 44.0, False, False),
    ("camC", 1): (62.0, None, False, True),
    ("camD", 0): (50.0, 100.0, False, False),
}


def _site(sample_every: float) -> Site:
    return Site(
        rules=Rules(),
        analysis=Analysis(sample_every_s=sample_every, width=320, chunk_s=60.0),
        cameras={c: Camera(c) for c in PLAN},
    )


def build_batch(folder: Path, clip: np.ndarray, sample_every: float):
    """Encode every session and run it through sampling and the analysers."""
    from pipeline.checks.registry import analysers_for
    from pipeline.media.probe import probe_file
    from pipeline.media.sampling import plan_chunks, sample_chunk
    from pipeline.signals import AnalysisContext, run_analysers
    from pipeline.tasks import timeline_rows

    site = _site(sample_every)
    analysers = [a for a in analysers_for(("integrity",)) if a.name != "clock"]
    contexts, timelines, probes = [], [], []
    seed = 0
    for camera_id, sessions in PLAN.items():
        for k, (hour, turns) in enumerate(sessions):
            seed += 1
            seconds = SECONDS.get(camera_id, SESSION_S)
            start = DAY + timedelta(hours=hour)
            path = folder / f"{camera_id}_{start:%Y%m%dT%H%M%S}.mp4"
            write_session(path, clip, seconds, hour * 3600.0, turns, seed)
            probe = probe_file(path, camera_id, start)
            assert probe.error is None, probe.error
            probes.append(probe)
            actx = AnalysisContext(
                camera=site.camera(camera_id), rules=site.rules, analysis=site.analysis
            )
            tables = []
            for chunk in plan_chunks(probe, site.analysis):
                batch = sample_chunk(path, chunk, site.analysis, probe)
                tables.append(
                    timeline_rows(probe, batch.t_s, run_analysers(batch, actx, analysers))
                )
            tl = pa.concat_tables(tables).sort_by([("t", "ascending")])
            sid = f"{camera_id}-S{k}"
            tl = tl.set_column(0, "session_id", pa.array([sid] * tl.num_rows, pa.string()))
            session = ExamSession(
                sid, "C1", "R1", camera_id, "theory", "safety", start,
                start + timedelta(seconds=probe.duration_s), 20, 1,
            )  # fmt: skip
            contexts.append(SessionContext(session, site.camera(camera_id), site, (probe,)))
            timelines.append(tl)
    return site, contexts, timelines, probes


def find_views(site, contexts, timelines, probes, tmp: Path, reference: Path | None = None):
    """The scan's view steps: batch views (with pictures), per-session finder, refinement."""
    from pipeline.refine import refine_events
    from pipeline.review.views import batch_views_with_pictures

    ctxs, events, files = batch_views_with_pictures(
        list(contexts), timelines, probes, site, reference
    )
    finder = ViewChangedFinder()
    for ctx, tl in zip(ctxs, timelines, strict=True):
        events += finder(tl, ctx)
    return refine_events(events, {p.path.name: p for p in probes}, site), ctxs, files


@pytest.fixture(scope="module", params=["TUD-Campus", "TUD-Stadtmitte"])
def batch(request, tmp_path_factory, real_data: Path):
    clip, _full = decode(real_data / f"{request.param}.mp4", SIZE[0])
    clip = np.stack([cv2.resize(f, SIZE, interpolation=cv2.INTER_AREA) for f in clip])
    folder = tmp_path_factory.mktemp(f"view-{request.param}")
    return (*build_batch(folder, clip, 2.0), folder)


def _check(events, contexts, *, expected=EXPECTED, reference=None) -> None:
    by_session = {c.session.session_id: (k, c) for k, c in enumerate(contexts)}
    seen = set()
    for e in events:
        assert e.kind == "view_changed"
        ctx = by_session[e.session_id][1]
        cam = ctx.session.camera_id
        index = int(e.session_id.rsplit("S", 1)[1])
        key = (cam, index)
        assert key in expected, f"unexpected {e.session_id} {e.start}-{e.end} {e.details}"
        assert key not in seen, f"more than one finding for {key}"
        seen.add(key)
        start_s, end_s, whole, persistent = expected[key]
        t0 = ctx.session.scheduled_start
        got0 = (e.start - t0).total_seconds()
        got1 = (e.end - t0).total_seconds()
        assert abs(got0 - start_s) <= 2.0, (key, got0, got1)
        if end_s is not None:
            assert abs(got1 - min(end_s, (ctx.session.scheduled_end - t0).total_seconds())) <= 2
        assert e.details["whole_session"] is whole, (key, e.details)
        assert e.details["persistent"] is persistent, (key, e.details)
        want = reference or ("session" if cam == "camD" else "batch")
        assert e.details["reference"] == want, (key, e.details)
    assert seen == set(expected), f"missed {set(expected) - seen}"


def test_turned_views_found_against_usual_view(batch, tmp_path):
    site, contexts, timelines, probes, _folder = batch
    events, ctxs, files = find_views(site, contexts, timelines, probes, tmp_path)
    _check(events, contexts)
    # the camera re-aimed for good has two views; the others one each, each with a picture
    views = {c.session.camera_id: c.views for c in ctxs}
    assert [len(views[c].views) for c in PLAN] == [1, 1, 2, 1]
    assert "views.parquet" in files and sum(f.endswith(".jpg") for f in files) == 5


def test_pinned_by_reference_image(batch, tmp_path):
    """camA's usual view pinned by a picture of it: the same findings for that camera."""
    site, contexts, timelines, probes, folder = batch
    from pipeline.review.media import grab_frames

    shot = grab_frames(probes[1].path, [30.0], 640)[0]
    assert shot is not None
    image = folder / "camA.png"
    cv2.imwrite(str(image), shot[1])
    site = replace(site, cameras={**site.cameras, "camA": Camera("camA", reference_image=image)})
    contexts = [replace(c, site=site, camera=site.camera(c.session.camera_id)) for c in contexts]
    events, _ctxs, _files = find_views(site, contexts, timelines, probes, tmp_path)
    mine = [e for e in events if e.camera_id == "camA"]
    assert len(mine) == 1 and mine[0].session_id == "camA-S2", [e.session_id for e in mine]
    assert mine[0].details["reference"] == "reference_image"
    assert mine[0].details["reference_origin"] == str(image)


def test_carried_from_earlier_evidence(batch, tmp_path):
    """``scan --reference``: views.parquet and pictures of one batch pin the next batch's
    usual views; the same findings, now against the carried views."""
    site, contexts, timelines, probes, _folder = batch
    _events, _ctxs, files = find_views(site, contexts, timelines, probes, tmp_path)
    earlier = tmp_path / "earlier"
    for rel, data in files.items():
        (earlier / rel).parent.mkdir(parents=True, exist_ok=True)
        (earlier / rel).write_bytes(data)
    events, _ctxs, files2 = find_views(site, contexts, timelines, probes, tmp_path, earlier)
    # camC was carried with its latest (re-aimed) view: all its sessions before the re-aim
    # now show another view, and the re-aim is no longer a change
    mine = [e for e in events if e.camera_id != "camC"]
    _check(
        mine,
        [c for c in contexts if c.session.camera_id != "camC"],
        expected={k: v for k, v in EXPECTED.items() if k[0] != "camC"},
        reference="evidence",
    )
    carried = [e for e in events if e.camera_id == "camC"]
    assert {e.session_id for e in carried} == {"camC-S0", "camC-S1"}, carried
    assert all(e.details["reference_origin"] == str(earlier.resolve()) for e in events)
    assert all(e.details["reference_thumb"] for e in events)
    assert "views/camA-0.jpg" in files2


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    return cv2.imdecode(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], 1)


@pytest.mark.parametrize("name", ["TUD-Campus", "TUD-Stadtmitte"])
def test_signature_separates_views_across_conditions(real_data: Path, name: str) -> None:
    """Per frame, against the clip's median view: the same view under other light, noise and
    compression stays below the restore threshold; a turn of 10 % or a 1.2x zoom is above
    the change threshold in every frame, people walking through included."""
    from pipeline.signals import view as sig

    clip, _full = decode(real_data / f"{name}.mp4", SIZE[0])
    rules = Rules()
    rng = np.random.default_rng(1)

    def hist(img: np.ndarray) -> np.ndarray:
        return sig.decode(sig.signature(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))[None])[0]

    reference = sig.median_view(np.stack([hist(f) for f in clip[::2]]))
    same_conditions = {
        "as filmed": lambda f: f,
        "dusk": lambda f: daylight(f, 0.02 * DAY_S).astype(np.uint8),
        "noon": lambda f: daylight(f, 0.5 * DAY_S).astype(np.uint8),
        "side light": lambda f: daylight(f, 0.95 * DAY_S).astype(np.uint8),
        "jpeg 25 + noise 6": lambda f: np.clip(
            _jpeg(f, 25) + rng.normal(0, 6.0, f.shape), 0, 255
        ).astype(np.uint8),
    }
    turned = {
        "shift 10 %": Turn(0, 1, dx=0.10),
        "down 10 %": Turn(0, 1, dy=0.10),
        "zoom 1.2x": Turn(0, 1, zoom=1.2),
        "rolled 5 degrees": Turn(0, 1, rot=5.0),
        "a quadrant": Turn(0, 1, zoom=2.0, centre=(0.25, 0.25)),
    }
    frames = clip[::3]
    for label, change in same_conditions.items():
        d = sig.distance(np.stack([hist(change(f)) for f in frames]), reference)
        assert d.max() < rules.view_changed_distance, (label, d.max())
        assert np.percentile(d, 90) < rules.view_restored_distance, (label, d)
    for label, turn in turned.items():
        d = sig.distance(np.stack([hist(_jpeg(warp(f, turn), 60)) for f in frames]), reference)
        assert d.min() > rules.view_changed_distance, (label, d.min())
