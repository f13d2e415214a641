"""The decode-once sampling engine: chunk plans, keyframes-only vs every-k-th decoding, scaled
frames, sample times, and corrupt input."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from test_integrity_media import write_clip

from pipeline.errors import RecordingError
from pipeline.inputs.config import Analysis
from pipeline.media.probe import probe_file
from pipeline.media.sampling import (
    Chunk,
    decode_window,
    keyframe_interval,
    plan_chunks,
    sample_chunk,
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """20 s at 10 fps, a keyframe every 2 s, B-frames (decoder reordering delay)."""
    return write_clip(tmp_path_factory.mktemp("sampling") / "c.mp4", 20, fps=10, bframes=2)


@pytest.fixture(scope="module")
def probe(clip):
    return probe_file(clip)


def sample_all(clip, probe, analysis):
    batches = [sample_chunk(clip, c, analysis, probe) for c in plan_chunks(probe, analysis)]
    return batches, np.concatenate([b.t_s for b in batches])


def test_chunks_start_on_keyframes_and_cover_the_file(probe):
    chunks = plan_chunks(probe, Analysis(chunk_s=7.0))
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert chunks[0].start_s == 0.0 and chunks[-1].end_s == pytest.approx(probe.duration_s)
    assert all(a.end_s == b.start_s for a, b in itertools.pairwise(chunks))
    assert all(c.start_s in probe.keyframes_s for c in chunks)
    assert len(chunks) == 3  # 0-8, 8-14, 14-20 (a short tail is merged, not a chunk)


def test_chunks_without_keyframe_info(probe):
    bare = replace(probe, keyframes_s=(), keyframe_interval_s=None)
    chunks = plan_chunks(bare, Analysis(chunk_s=6.0))
    assert [(c.start_s, c.end_s) for c in chunks][:2] == [(0.0, 6.0), (6.0, 12.0)]
    # sampling still works: it seeks to the keyframe before the cut and decodes every frame
    _, t = sample_all(Path(bare.path), bare, Analysis(chunk_s=6.0, sample_every_s=2.0))
    assert np.allclose(t, np.arange(0, 20, 2.0))


def test_keyframes_only_when_the_interval_allows(clip, probe):
    assert keyframe_interval(probe) == pytest.approx(2.0)
    analysis = Analysis(sample_every_s=2.0, chunk_s=8.0, width=160)
    batches, t = sample_all(clip, probe, analysis)
    assert np.allclose(t, probe.keyframes_s)  # exactly the keyframes
    assert all(b.frames.shape[1:] == (90, 160, 3) for b in batches)  # scaled by FFmpeg
    assert batches[1].prev is not None and batches[0].prev is None
    assert np.array_equal(batches[1].prev, batches[0].frames[-1])


def test_demuxer_drops_non_key_packets_only_without_reordering(clip, probe, tmp_path, monkeypatch):
    """Without B-frames the MP4 demuxer itself discards non-key packets (the sampler never sees
    them) and the samples are those of the packet-by-packet path; with B-frames (the demuxer
    would misplace their pts) the sampler keeps skipping packets itself."""
    assert probe.reordered  # the module's clip has B-frames
    plain = write_clip(tmp_path / "plain.mp4", 20, fps=10, bframes=0)
    plain_probe = probe_file(plain)
    assert not plain_probe.reordered
    analysis = Analysis(sample_every_s=2.0, chunk_s=8.0, width=160)
    packets = spy_on(monkeypatch, av.Packet, "decode", lambda packet: packet.is_keyframe)
    fast, t_fast = sample_all(plain, plain_probe, analysis)
    assert np.allclose(t_fast, plain_probe.keyframes_s)
    seen_fast = len(packets)
    slow, t_slow = sample_all(plain, replace(plain_probe, reordered=True), analysis)
    assert np.array_equal(t_fast, t_slow)
    for a, b in zip(fast, slow, strict=True):
        assert np.array_equal(a.frames, b.frames)
    assert seen_fast == len(packets) - seen_fast  # the same key packets reach the decoder
    _, t_b = sample_all(clip, probe, analysis)
    assert np.allclose(t_b, probe.keyframes_s)  # B-frames: still exactly the keyframes


def spy_on(monkeypatch, cls, method: str, what) -> list:
    """Record ``what(obj)`` for every call of ``cls.method`` (PyAV's frames and packets)."""
    seen: list = []
    original = getattr(cls, method)

    def spy(self, *args, **kwargs):
        seen.append(what(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, method, spy)
    return seen


def test_keyframes_only_decodes_nothing_else(clip, probe, monkeypatch):
    """Count frames the decoder hands out: keyframes mode must not decode P/B frames."""
    seen = spy_on(monkeypatch, av.VideoFrame, "to_ndarray", lambda frame: frame.key_frame)
    sample_all(clip, probe, Analysis(sample_every_s=4.0, chunk_s=100.0))
    assert seen and all(seen)
    assert len(seen) == 5  # 0, 4, 8, 12, 16: keyframes of skipped buckets are not decoded


def test_every_kth_frame_when_sampling_is_denser_than_the_gop(clip, probe):
    analysis = Analysis(sample_every_s=0.5, chunk_s=8.0)
    batches, t = sample_all(clip, probe, analysis)
    assert np.allclose(t, np.arange(0, 20, 0.5))
    whole = sample_chunk(clip, Chunk(0, 0.0, probe.duration_s), analysis, probe)
    assert np.array_equal(whole.t_s, t)
    assert np.array_equal(whole.frames, np.concatenate([b.frames for b in batches]))


@pytest.mark.parametrize("bframes", [0, 2])
def test_long_gop_decodes_up_to_the_last_sample_of_each_gop(tmp_path, monkeypatch, bframes):
    """Keyframes 5 s apart, a sample every 2 s: each GOP is decoded up to its last sample
    (4 s of 5) and no further, and the samples are those of decoding every frame."""
    clip = write_clip(tmp_path / "long.mp4", 20, fps=10, gop_s=5.0, bframes=bframes)
    probe = probe_file(clip)
    analysis = Analysis(sample_every_s=2.0, chunk_s=100.0, width=80)
    every_t, every_f = decode_window(clip, 0.0, probe.duration_s, width=80)
    first = np.unique(np.floor(every_t / 2.0 + 1e-6), return_index=True)[1]
    decoded = spy_on(monkeypatch, av.Packet, "decode", lambda packet: packet.pts)
    batches, t = sample_all(clip, probe, analysis)
    assert np.allclose(t, every_t[first])
    assert np.array_equal(np.concatenate([b.frames for b in batches]), every_f[first])
    # 200 frames; after the last sample of a GOP, the rest of it is skipped: 4.1-4.9 s,
    # 8.1-9.9 s and 14.1-14.9 s (the last GOP is decoded to the end); B-frames delay the
    # decoder's output, so a few more frames are decoded before it shows the sample
    skipped = 9 + 19 + 9
    assert 200 - skipped <= len([p for p in decoded if p is not None]) <= 200 - skipped + 6


def test_sample_times_are_file_offsets(tmp_path):
    """A stream whose first pts is not zero: t_s counts from the file's first frame."""
    path = tmp_path / "late.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 36, "yuv420p"
        stream.codec_context.gop_size = 10
        stream.codec_context.options = {"preset": "ultrafast", "bf": "0", "sc_threshold": "0"}
        from fractions import Fraction

        stream.time_base = Fraction(1, 10)
        for i in range(60):
            frame = av.VideoFrame.from_ndarray(np.full((36, 64, 3), i * 4, np.uint8), "bgr24")
            frame.pts = 1000 + i  # the recording starts 100 s into the stream clock
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    probe = probe_file(path)
    _, t = sample_all(path, probe, Analysis(sample_every_s=1.0, chunk_s=100.0))
    assert np.allclose(t, np.arange(0, 6, 1.0))


def test_decode_window_for_refinement(clip):
    t, frames = decode_window(clip, 5.0, 7.0, width=80, step_s=0.0)
    assert t[0] == pytest.approx(5.0) and t[-1] == pytest.approx(7.0)
    assert len(t) == 21 and frames.shape[1:] == (45, 80, 3)


def test_truncated_file_returns_what_decodes(clip, probe, tmp_path):
    cut = tmp_path / "cut.mp4"
    data = clip.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    analysis = Analysis(sample_every_s=2.0, chunk_s=100.0)
    # the moov atom of an mp4 written by PyAV sits at the end: half a file cannot be opened
    with pytest.raises(RecordingError, match=r"cut\.mp4"):
        sample_chunk(cut, Chunk(0, 0.0, probe.duration_s), analysis, probe)


def test_garbage_and_missing_files_raise_recording_error(tmp_path, probe):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00not a video" * 100)
    chunk = Chunk(0, 0.0, 10.0)
    with pytest.raises(RecordingError, match=r"junk\.mp4"):
        sample_chunk(junk, chunk, Analysis(), probe)
    with pytest.raises(RecordingError, match="file not found"):
        sample_chunk(tmp_path / "nope.mp4", chunk, Analysis(), probe)


def test_truncated_stream_keeps_samples_before_the_damage(tmp_path):
    """An MPEG-TS recording cut mid-way (no index to lose): samples up to the cut come back."""
    src = tmp_path / "rec.ts"
    with av.open(str(src), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 36, "yuv420p"
        stream.codec_context.gop_size = 10
        stream.codec_context.options = {"preset": "ultrafast", "bf": "0", "sc_threshold": "0"}
        rng = np.random.default_rng(0)
        for i in range(100):
            img = rng.integers(0, 255, (36, 64, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(img, "bgr24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    data = src.read_bytes()
    cut = tmp_path / "cut.ts"
    cut.write_bytes(data[: int(len(data) * 0.6)] + b"\x47garbage" * 200)
    probe = probe_file(cut)
    batch = sample_chunk(cut, Chunk(0, 0.0, 1e9), Analysis(sample_every_s=1.0), probe)
    assert 4 <= len(batch) <= 7
    assert np.all(np.diff(batch.t_s) > 0)
