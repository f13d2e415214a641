"""Cut one browser-playable MP4 (H.264 + AAC, faststart) out of a recording with PyAV.

Three ways, chosen per clip, cheapest first:

* **copy** — the source is H.264 4:2:0 and a keyframe lies at most ``max_lead_s`` before the
  requested start: packets are copied from that keyframe to the end of the window (no
  decoding, no quality loss). The clip starts up to ``max_lead_s`` early: a little more
  pre-roll, never less.
* **splice** — keyframes are further apart: the partial GOP at the head (window start up to
  the next keyframe) is decoded and re-encoded with x264, the rest is copied. An MP4 track has
  one ``avcC``, so x264's SPS/PPS travel in-band with its first frame and the camera's are sent
  in-band again on the first copied keyframe; every spliced clip is decoded back in full and
  must give every frame, else it is re-encoded instead. (The tail needs no re-encode: cutting
  in decode order keeps every reference a kept frame needs.) Measured in Chromium: seeks into
  and playback across the splice show the same pictures as FFmpeg's decoder
  (tests/test_browser.py).
* **encode** — anything else (other codecs, 4:4:4 / 10-bit, no keyframe inside the window, a
  copy or splice that does not read back): decode the window and encode it with libx264
  (``veryfast``), capped at 1280 px wide.

Audio: AAC is copied, any other codec is transcoded to AAC; timestamp gaps in the source are
kept (the clip shows the jump, which is often the finding).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from pipeline.media.h264 import annexb_to_length_prefixed, avcc_parameter_sets
from pipeline.review.media import atomic_path, scaled_size

BROWSER_PIX_FMTS = {"yuv420p", "yuvj420p"}
ENCODE_TB = Fraction(1, 90_000)


@dataclass(frozen=True)
class CutResult:
    mode: str  # "copy" | "splice" | "encode"
    start_s: float  # file offset where the clip really starts
    end_s: float
    frames: int


def cut_clip(
    src: Path,
    start_s: float,
    end_s: float,
    target: Path,
    keyframes_s: Sequence[float] = (),
    max_lead_s: float = 5.0,
    max_width: int = 1280,
    splice: bool = True,
    min_copy_s: float = 2.0,
) -> CutResult:
    """Write ``target`` with the window ``[start_s, end_s]`` (file offsets) of ``src``."""
    if end_s <= start_s:
        raise ValueError(f"{src}: empty clip window {start_s:.3f}..{end_s:.3f} s")
    keyframe = _keyframe_before(keyframes_s, start_s)
    if keyframe is not None and start_s - keyframe <= max_lead_s and _copyable(src):
        try:
            with atomic_path(target) as tmp:
                result = _copy(src, keyframe, end_s, tmp)
                if result.frames == 0 or not _reads_back(tmp):
                    raise ValueError("copied clip does not decode")
            return result
        except (av.error.FFmpegError, ValueError):
            pass  # fall through to a full re-encode
    head_key = _keyframe_after(keyframes_s, start_s)
    if splice and head_key is not None and end_s - head_key >= min_copy_s and _copyable(src):
        try:
            with atomic_path(target) as tmp:
                result = _splice(src, start_s, head_key, end_s, tmp)
                expected = _count_packets(src, start_s, end_s)
                if not _decodes_fully(tmp, result.frames) or abs(result.frames - expected) > 2:
                    raise ValueError("spliced clip does not decode cleanly")
            return result
        except (av.error.FFmpegError, ValueError):
            pass
    with atomic_path(target) as tmp:
        return _encode(src, start_s, end_s, tmp, max_width)


def _keyframe_before(keyframes_s: Sequence[float], t: float) -> float | None:
    keys = sorted(keyframes_s)
    i = bisect.bisect_right(keys, t + 1e-6)
    return keys[i - 1] if i else None


def _keyframe_after(keyframes_s: Sequence[float], t: float) -> float | None:
    keys = sorted(keyframes_s)
    i = bisect.bisect_left(keys, t - 1e-6)
    return keys[i] if i < len(keys) else None


def _count_packets(src: Path, start_s: float, end_s: float) -> int:
    """Video frames whose timestamps fall in the window (what a splice must deliver)."""
    with av.open(str(src), metadata_errors="ignore") as c:
        s = c.streams.video[0]
        base = s.start_time or 0
        lo, hi = base + round(start_s / s.time_base), base + round(end_s / s.time_base)
        c.seek(lo, backward=True, stream=s)
        n = 0
        for p in c.demux(s):
            if p.pts is None:
                continue
            if p.dts is not None and p.dts > hi:
                break
            n += lo <= p.pts
        return n


def _decodes_fully(path: Path, frames: int) -> bool:
    """Every packet of the written clip decodes to a picture, without decoder errors."""
    try:
        with av.open(str(path)) as c:
            n = sum(1 for _ in c.decode(video=0))
    except av.error.FFmpegError:
        return False
    return n == frames


def _copyable(src: Path) -> bool:
    with av.open(str(src), metadata_errors="ignore") as c:
        if not c.streams.video:
            return False
        ctx = c.streams.video[0].codec_context
        return ctx.name == "h264" and (ctx.format is None or ctx.format.name in BROWSER_PIX_FMTS)


def _reads_back(path: Path) -> bool:
    """The written clip opens and its first video frame decodes."""
    try:
        with av.open(str(path)) as c:
            for _ in c.decode(video=0):
                return True
    except av.error.FFmpegError:
        return False
    return False


class _AudioOut:
    """Copies AAC packets or transcodes other audio to AAC, rebased to the clip origin."""

    def __init__(self, out: av.container.OutputContainer, ain: av.audio.stream.AudioStream) -> None:
        self.ain = ain
        self.copy = ain.codec_context.name == "aac"
        if self.copy:
            self.stream = out.add_stream_from_template(ain)
        else:
            rate = ain.codec_context.sample_rate or 48_000
            self.stream = out.add_stream("aac", rate=rate)
            layout = ain.codec_context.layout.name if ain.codec_context.layout else "stereo"
            self.stream.layout = layout
            self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
            self.next_pts: int | None = None

    def push(
        self, out: av.container.OutputContainer, packet: av.Packet, origin: float, end: float
    ) -> None:
        if packet.pts is None or packet.time_base is None:
            return
        t = float(packet.pts * packet.time_base) - origin
        if t < 0 or t > end - origin:
            return
        if self.copy:
            shift = round(origin / packet.time_base)
            packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
            packet.stream = self.stream
            out.mux(packet)
            return
        for frame in packet.decode():
            for rf in self.resampler.resample(frame):
                if self.next_pts is None:
                    self.next_pts = round(t * rf.sample_rate)
                rf.pts = self.next_pts
                rf.time_base = Fraction(1, rf.sample_rate)
                self.next_pts += rf.samples
                out.mux(self.stream.encode(rf))

    def flush(self, out: av.container.OutputContainer) -> None:
        if not self.copy:
            out.mux(self.stream.encode(None))


def _copy(src: Path, keyframe_s: float, end_s: float, tmp: Path) -> CutResult:
    with av.open(str(src), metadata_errors="ignore") as inp:
        vin = inp.streams.video[0]
        ain = inp.streams.audio[0] if inp.streams.audio else None
        tb = vin.time_base
        base = vin.start_time or 0
        end_abs = float((base + end_s / tb) * tb)
        frames = 0
        origin: float | None = None
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            vout = out.add_stream_from_template(vin)
            audio = _AudioOut(out, ain) if ain is not None else None
            inp.seek(base + int(keyframe_s / tb), backward=True, stream=vin)
            streams = [vin] + ([ain] if ain is not None else [])
            for packet in inp.demux(streams):
                if packet.dts is None and packet.pts is None:
                    continue
                if packet.stream.index == vin.index:
                    dts = packet.dts if packet.dts is not None else packet.pts
                    if origin is None:
                        if not packet.is_keyframe:
                            continue
                        origin = float(dts * tb)
                    if float(dts * tb) > end_abs:
                        break
                    shift = round(origin / tb)
                    packet.dts = dts - shift
                    packet.pts = (packet.pts if packet.pts is not None else dts) - shift
                    packet.stream = vout
                    out.mux(packet)
                    frames += 1
                elif audio is not None and origin is not None:
                    audio.push(out, packet, origin, end_abs)
            if audio is not None:
                audio.flush(out)
        start = (origin - float(base * tb)) if origin is not None else keyframe_s
        return CutResult("copy", start, end_s, frames)


def _encode(src: Path, start_s: float, end_s: float, tmp: Path, max_width: int) -> CutResult:
    with av.open(str(src), metadata_errors="ignore") as inp:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        ain = inp.streams.audio[0] if inp.streams.audio else None
        tb = vin.time_base
        base = vin.start_time or 0
        origin = float((base + start_s / tb) * tb)
        end_abs = float((base + end_s / tb) * tb)
        width, height = scaled_size(vin.codec_context.width, vin.codec_context.height, max_width)
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        frames = 0
        first: float | None = None
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            vout = out.add_stream("libx264", rate=rate)
            vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
            vout.time_base = ENCODE_TB
            vout.codec_context.time_base = ENCODE_TB
            vout.options = {"preset": "veryfast", "crf": "23"}
            audio = _AudioOut(out, ain) if ain is not None else None
            inp.seek(base + int(start_s / tb), backward=True, stream=vin)
            streams = [vin] + ([ain] if ain is not None else [])
            done = False
            for packet in inp.demux(streams):
                if packet.stream.index != vin.index:
                    if audio is not None:
                        audio.push(out, packet, origin, end_abs)
                    continue
                for frame in packet.decode():
                    if frame.pts is None:
                        continue
                    t = float(frame.pts * tb)
                    if t < origin - 1e-6:
                        continue
                    if t > end_abs + 1e-6:
                        done = True
                        break
                    if first is None:
                        first = t
                    img = frame.reformat(width=width, height=height, format="yuv420p")
                    img.pts = round((t - origin) / ENCODE_TB)
                    img.time_base = ENCODE_TB
                    out.mux(vout.encode(img))
                    frames += 1
                if done:
                    break
            out.mux(vout.encode(None))
            if audio is not None:
                audio.flush(out)
        if frames == 0:
            raise ValueError(f"{src}: no decodable frames between {start_s:.1f} and {end_s:.1f} s")
        return CutResult("encode", start_s, end_s, frames)


# --- splice: re-encode the partial GOP at the head, copy the rest -------------------------


def _splice(src: Path, start_s: float, head_key_s: float, end_s: float, tmp: Path) -> CutResult:
    """Encode ``[start_s, k1)`` with x264 (in-band SPS/PPS), then copy from keyframe ``k1`` on,
    re-sending the camera's SPS/PPS in-band at the switch so decoders go back to them."""
    with av.open(str(src), metadata_errors="ignore") as inp:
        vin = inp.streams.video[0]
        ctx = vin.codec_context
        params = avcc_parameter_sets(ctx.extradata)
        if params is None:
            raise ValueError("no avcC parameter sets to splice with")
        sets, nal_size = params
        tb = vin.time_base
        base = vin.start_time or 0
        start_ts = base + round(start_s / tb)
        end_ts = base + round(end_s / tb)
        k1_ts = base + round(head_key_s / tb)
        ain = inp.streams.audio[0] if inp.streams.audio else None

        enc = av.CodecContext.create("libx264", "w")
        enc.width, enc.height, enc.pix_fmt = ctx.width, ctx.height, "yuv420p"
        enc.time_base = tb
        enc.framerate = vin.average_rate or vin.guessed_rate or Fraction(25)
        enc.options = {"preset": "veryfast", "crf": "18", "bf": "0"}  # no reordering: dts = pts
        enc.open()

        head: list[av.Packet] = []
        audio_wait: list[av.Packet] = []
        frames = 0
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            vout = out.add_stream_from_template(vin)
            audio = _AudioOut(out, ain) if ain is not None else None
            inp.seek(start_ts, backward=True, stream=vin)
            streams = [vin] + ([ain] if ain is not None else [])
            shift: int | None = None
            origin = 0.0
            for packet in inp.demux(streams):
                if packet.stream.index != vin.index:
                    if audio is None:
                        continue
                    if shift is None:
                        audio_wait.append(packet)
                    else:
                        audio.push(out, packet, origin, float(end_ts * tb))
                    continue
                if packet.dts is None and packet.pts is None:
                    continue
                pts = packet.pts if packet.pts is not None else packet.dts
                if shift is None and not (packet.is_keyframe and pts >= k1_ts):
                    for frame in packet.decode():
                        if frame.pts is not None and start_ts <= frame.pts < k1_ts:
                            head.extend(_encode_head(enc, frame))
                    continue
                if shift is None:  # the switch: flush decoder and encoder, then copy
                    for frame in vin.codec_context.decode(None):
                        if frame.pts is not None and start_ts <= frame.pts < k1_ts:
                            head.extend(_encode_head(enc, frame))
                    head.extend(enc.encode(None))
                    dts = packet.dts if packet.dts is not None else pts
                    delay = pts - dts
                    first = head[0].pts if head else pts
                    shift = first - delay
                    origin = float(shift * tb)
                    for h in head:
                        data = annexb_to_length_prefixed(bytes(h), nal_size)
                        p = av.Packet(data)
                        p.pts, p.dts = h.pts - shift, h.pts - delay - shift
                        p.time_base = tb
                        p.is_keyframe = h.is_keyframe
                        p.stream = vout
                        out.mux(p)
                        frames += 1
                    prefix = b"".join(len(s).to_bytes(nal_size, "big") + s for s in sets)
                    p = av.Packet(prefix + bytes(packet))
                    p.pts, p.dts = pts - shift, dts - shift
                    p.time_base = tb
                    p.is_keyframe = True
                    p.stream = vout
                    out.mux(p)
                    frames += 1
                    if audio is not None:
                        for a in audio_wait:
                            audio.push(out, a, origin, float(end_ts * tb))
                        audio_wait.clear()
                    continue
                dts = packet.dts if packet.dts is not None else pts
                if dts > end_ts:
                    break
                packet.pts, packet.dts = pts - shift, dts - shift
                packet.stream = vout
                out.mux(packet)
                frames += 1
            if shift is None:
                raise ValueError("no keyframe to splice at inside the window")
            if audio is not None:
                audio.flush(out)
    return CutResult("splice", start_s, end_s, frames)


def _encode_head(enc: av.CodecContext, frame: av.VideoFrame) -> list[av.Packet]:
    img = frame.reformat(format="yuv420p")
    img.pts = frame.pts
    img.time_base = enc.time_base
    return list(enc.encode(img))
