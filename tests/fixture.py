"""A small, real evidence folder for tests, benchmarks and demos of the review stage.

It holds a genuine H.264 + AAC recording (encoded here with PyAV: a moving "person" block,
a burned-in frame counter, a tone) and evidence tables written with the Arrow schemas of
:mod:`pipeline.schemas`, including hostile text (``<script>`` in a file name and in details)
so escaping is exercised. It does not replace ``examaudit scan`` output; it lets the review
code be tested without the rest of the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import evidence as evidence_io
from pipeline import schemas
from pipeline.inputs.config import Camera, Review, Site
from pipeline.records import Event, ExamSession, FileProbe

T0 = datetime(2022, 3, 15, 0, 30, tzinfo=UTC)  # 08:30 Asia/Shanghai
HOSTILE = "cam02_<script>alert(1)<img src=x onerror=alert(2)>.mp4"


@dataclass(frozen=True)
class Demo:
    evidence: Path
    recordings: Path
    site: Site
    sessions: tuple[ExamSession, ...]
    probes: dict[str, FileProbe]
    events: tuple[Event, ...]


def encode_recording(
    path: Path,
    seconds: float = 24.0,
    fps: int = 10,
    size: tuple[int, int] = (320, 240),
    gop: int = 20,
    audio: bool = True,
    bframes: int = 0,
) -> Path:
    """Write a small H.264/AAC MP4 with visible motion and a frame counter."""
    w, h = size
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {
            "preset": "ultrafast" if not bframes else "veryfast",
            "g": str(gop),
            "keyint_min": str(gop),
            "sc_threshold": "0",
            "bf": str(bframes),
        }
        a_s = None
        if audio:
            a_s = out.add_stream("aac", rate=16_000)
            a_s.layout = "mono"
        n = int(seconds * fps)
        for i in range(n):
            img = np.full((h, w, 3), (90, 110, 120), np.uint8)
            x = int((w - 60) * (0.5 + 0.5 * np.sin(i / 15)))
            cv2.rectangle(img, (x, h // 3), (x + 40, h - 20), (30, 30, 200), -1)
            cv2.putText(img, f"{i:04d}", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if a_s is not None:
            rate, chunk = 16_000, 1024
            total = int(seconds * rate)
            for start in range(0, total, chunk):
                t = (np.arange(start, min(total, start + chunk)) / rate).astype(np.float32)
                samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
                af = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                af.sample_rate = rate
                af.pts = start
                af.time_base = Fraction(1, rate)
                out.mux(a_s.encode(af))
            out.mux(a_s.encode(None))
    return path


def _ts(values: list[datetime | None]) -> pa.Array:
    return pa.array(values, type=schemas.TS)


def write_table(path: Path, schema: pa.Schema, rows: list[dict]) -> None:
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, path)


def build_demo_evidence(root: Path, max_clip_s: float = 8.0) -> Demo:
    """Create ``root/recordings`` (one real file) and ``root/evidence`` (tables, no media)."""
    from pipeline.media.probe import probe_file

    recordings = root / "recordings"
    evidence = root / "evidence"
    evidence.mkdir(parents=True, exist_ok=True)
    src = encode_recording(recordings / "cam01_20220315T083000.mp4")
    probe = probe_file(src, "cam01", T0)
    bad = recordings / HOSTILE
    bad.write_bytes(b"this is not a video")
    bad_probe = probe_file(bad, "cam02", T0 + timedelta(minutes=1))
    probes = {"cam01_20220315T083000.mp4": probe, HOSTILE: bad_probe}

    site = Site(
        review=Review(pre_roll_s=2.0, post_roll_s=2.0, max_clip_s=max_clip_s),
        cameras={
            "cam01": Camera(
                "cam01",
                proctor_zone=((0.0, 0.0), (0.45, 0.0), (0.45, 1.0), (0.0, 1.0)),
                station_zone=((0.55, 0.35), (0.95, 0.35), (0.95, 0.95), (0.55, 0.95)),
            )
        },
    )
    s1 = ExamSession(
        "S01",
        "C1",
        "R101",
        "cam01",
        "practical",
        "electrician",
        T0,
        T0 + timedelta(seconds=40),
        6,
        1,
    )
    s2 = ExamSession(
        "S02",
        "C2",
        "R<b>2</b>",
        "cam02",
        "theory",
        "welding",
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=2),
        20,
        1,
    )
    end_of_file = probe.end
    assert end_of_file is not None
    events = (
        Event(
            "proctor_absent",
            "cam01",
            T0 + timedelta(seconds=5),
            T0 + timedelta(seconds=9),
            "S01",
            0.8,
            {"zone": "proctor", "note": "<script>alert('x')</script>"},
            "cam01_20220315T083000.mp4",
        ),
        Event(
            "black_screen",
            "cam01",
            T0 + timedelta(seconds=3),
            T0 + timedelta(seconds=21),
            "S01",
            0.95,
            {"mean_luma": 4.2},
            "cam01_20220315T083000.mp4",
        ),
        Event(
            "recording_gap",
            "cam01",
            end_of_file,
            s1.scheduled_end,
            "S01",
            1.0,
            {"gap_s": (s1.scheduled_end - end_of_file).total_seconds()},
            None,
        ),
        Event("recording_missing", "cam02", s2.scheduled_start, s2.scheduled_end, "S02", 1.0, {}),
        Event(
            "file_unreadable",
            "cam02",
            s2.scheduled_start,
            s2.scheduled_start,
            None,
            1.0,
            {"error": bad_probe.error},
            HOSTILE,
        ),
    )
    evidence_io.write_table(
        evidence / "files.parquet", evidence_io.files_table(list(probes.values()), recordings)
    )
    recorded = probe.duration_s
    write_table(
        evidence / "sessions.parquet",
        schemas.SESSIONS,
        [
            {
                "session_id": "S01",
                "centre_id": "C1",
                "room_id": "R101",
                "camera_id": "cam01",
                "exam_type": "practical",
                "scheduled_start": s1.scheduled_start,
                "scheduled_end": s1.scheduled_end,
                "recorded_s": recorded,
                "coverage": recorded / s1.duration_s,
                "longest_gap_s": s1.duration_s - recorded,
                "proctor_presence": 0.75,
                "longest_proctor_absence_s": 4.0,
                "station_activity": 0.5,
                "verdict": "flag",
                "event_count": 3,
            },
            {
                "session_id": "S02",
                "centre_id": "C2",
                "room_id": "R<b>2</b>",
                "camera_id": "cam02",
                "exam_type": "theory",
                "scheduled_start": s2.scheduled_start,
                "scheduled_end": s2.scheduled_end,
                "recorded_s": 0.0,
                "coverage": 0.0,
                "longest_gap_s": s2.duration_s,
                "proctor_presence": None,
                "longest_proctor_absence_s": None,
                "station_activity": None,
                "verdict": "missing",
                "event_count": 1,
            },
        ],
    )
    write_events(evidence, events)
    rows = []
    for k in range(int(recorded // 2)):
        t = T0 + timedelta(seconds=2 * k)
        absent = 5 <= 2 * k < 9
        rows.append(
            {
                "session_id": "S01",
                "camera_id": "cam01",
                "t": t,
                "persons": 1 if absent else 2,
                "persons_in_proctor_zone": 0 if absent else 1,
                "station_motion": 0.02 if 2 * k > 14 else 0.3,
                "brightness": 5.0 if 3 <= 2 * k < 21 else 110.0,
                "motion": 0.1,
                "source_file": "cam01_20220315T083000.mp4",
                "t_file_s": 2.0 * k,
            }
        )
    write_table(evidence / "timeline.parquet", schemas.TIMELINE, rows)
    return Demo(evidence, recordings, site, (s1, s2), probes, events)


def write_events(evidence: Path, events: tuple[Event, ...] | list[Event]) -> None:
    evidence_io.write_table(evidence / "events.parquet", evidence_io.events_table(events))
