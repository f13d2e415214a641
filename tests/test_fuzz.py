"""Fuzzing: mutated recordings, schedules and site files never crash or hang; every invalid
config gets a message naming file and line/key."""

from __future__ import annotations

import random
from pathlib import Path

import av
import pytest
from clipgen import SCHEDULE_HEADER, write_clip
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import InputError, RecordingError
from pipeline.inputs.config import Analysis, load_site
from pipeline.inputs.schedule import load_schedule
from pipeline.media.probe import probe_file

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("fuzz_seeds")
    mp4 = write_clip(folder / "seed.mp4", 4, size=(160, 96), gop_s=1.0)
    mkv = folder / "seed.mkv"
    with av.open(str(mp4)) as src, av.open(str(mkv), "w") as dst:  # same packets, Matroska
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    return {"mp4": mp4.read_bytes(), "mkv": mkv.read_bytes()}


def mutate(data: bytes, rng: random.Random, ops: int) -> bytes:
    """Byte flips, overwritten runs, cut-outs, duplicated runs and truncation."""
    buf = bytearray(data)
    for _ in range(ops):
        # mostly damage the payload (the middle 80 %): the decoder then sees corrupt packets;
        # now and then cut the file or hit the index
        op = rng.choices(range(5), weights=(40, 30, 10, 10, 5))[0]
        lo, hi = (len(buf) // 10, len(buf) * 9 // 10) if rng.random() < 0.8 else (0, len(buf))
        at = rng.randrange(lo, max(lo + 1, hi))
        if op == 0:
            buf[at] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[at : at + 16] = bytes(rng.randrange(256) for _ in range(16))
        elif op == 2:
            del buf[at : at + rng.randrange(1, 4096)]
        elif op == 3:
            buf[at:at] = buf[at : at + rng.randrange(1, 2048)]
        else:
            del buf[at:]
    return bytes(buf)


@FUZZ
@given(
    container=st.sampled_from(["mp4", "mkv"]), seed=st.integers(0, 2**32 - 1), ops=st.integers(1, 6)
)
def test_probe_and_sampler_survive_mutations(
    seeds, tmp_path: Path, container: str, seed: int, ops: int
) -> None:
    from pipeline.media.sampling import plan_chunks, sample_chunk

    path = tmp_path / f"fuzz_{seed}.{container}"
    path.write_bytes(mutate(seeds[container], random.Random(seed), ops))
    probe = probe_file(path)  # never raises: problems go into probe.error
    assert probe.error is None or (isinstance(probe.error, str) and probe.error)
    if probe.duration_s <= 0 or (probe.error and not probe.partial):
        return
    analysis = Analysis(sample_every_s=0.5, width=64, file_timeout_s=20)
    for chunk in plan_chunks(probe, analysis):
        try:
            batch = sample_chunk(path, chunk, analysis, probe)
        except RecordingError as exc:  # the only way the sampler may refuse a file
            assert str(path) in str(exc)
            continue
        assert batch.frames.ndim == 4 and batch.frames.shape[0] == len(batch.t_s)


VALID_SCHEDULE = SCHEDULE_HEADER + (
    "S1,C1,R1,cam01,theory,safety,2022-03-15T08:30:00+08:00,2022-03-15T09:30:00+08:00,30,1\n"
    "S2,C1,R2,cam02,practical,welding,2022-03-15T10:00:00+08:00,2022-03-15T11:00:00+08:00,8,1\n"
)
VALID_SITE = """timezone = "Asia/Shanghai"
filename_pattern = '(?P<camera_id>[^_]+)_(?P<start>\\d{8}T?\\d{6})'
[rules]
min_gap_s = 2.0
min_height = 720
[cameras.cam01]
proctor_zone = [[0.0,0.0],[1.0,0.0],[1.0,1.0],[0.0,1.0]]
station_zone = [[0.55,0.35],[0.95,0.35],[0.95,0.95],[0.55,0.95]]
clock_region = [0.0,0.0,0.4,0.08]
"""
ALPHABET = st.sampled_from([*list(",\"=[]{}\n.:+-T0123456789abcxyz_ '#\\"), "é", "考"])


def text_mutation(text: str) -> st.SearchStrategy[str]:
    edit = st.tuples(st.integers(0, len(text)), st.integers(0, 8), st.text(ALPHABET, max_size=6))

    def apply(edits: list[tuple[int, int, str]]) -> str:
        out = text
        for at, cut, insert in edits:
            at = min(at, len(out))
            out = out[:at] + insert + out[at + cut :]
        return out

    return st.lists(edit, min_size=1, max_size=4).map(apply)


@FUZZ
@given(text=text_mutation(VALID_SCHEDULE))
def test_schedule_mutations_load_or_name_the_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "schedule.csv"
    path.write_text(text, encoding="utf-8")
    try:
        sessions = load_schedule(path)
    except InputError as exc:
        assert exc.path == path and exc.where and exc.where.startswith("line "), exc
        assert exc.reason
        return
    for s in sessions:
        assert s.scheduled_end > s.scheduled_start and s.exam_type in ("theory", "practical")


@FUZZ
@given(text=text_mutation(VALID_SITE))
def test_site_mutations_load_or_name_the_key(tmp_path: Path, text: str) -> None:
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    try:
        site = load_site(path)
    except InputError as exc:
        assert exc.path == path and exc.where, exc
        assert exc.reason
        return
    site.config_hash()
    for cam in site.cameras.values():
        assert all(0 <= x <= 1 and 0 <= y <= 1 for x, y in cam.proctor_zone)
