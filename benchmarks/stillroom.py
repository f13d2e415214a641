"""Still rooms from real pictures: live (fresh sensor noise every frame) or frozen feeds.

A plate is the per-pixel median of a real clip's frames (people walk away, the room stays),
scaled to the recording size. A *live* still room is that plate with new Gaussian sensor noise
in every frame and, optionally, a slow lighting drift; a *frozen* feed repeats one live frame,
as it was (``exact``), passed through another encoder at a quantiser that changes every
keyframe interval (``requant``), or with the NVR's burned-in clock still running (``clock``).
Used by ``tests/test_still_rooms.py`` (small clips) and ``benchmarks/bench_still.py`` (the
whole matrix). Everything is deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import cv2
import numpy as np

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
CLOCK_REGION = (0.02, 0.02, 0.34, 0.07)  # x, y, w, h of the burned-in clock (normalised)


@dataclass(frozen=True)
class Room:
    """One synthetic recording of a still room."""

    plate: str = "TUD-Campus"  # real clip the plate is the median of
    seconds: float = 30.0
    size: tuple[int, int] = (640, 480)
    fps: int = 10
    sigma: float = 1.5  # sensor noise, grey levels, new every frame
    gain: float = 1.0  # the plate's brightness (0.15: the room at night)
    drift: float = 0.0  # lighting change over the clip (fraction of the gain, slow sine)
    codec: str = "libx264"
    crf: int = 23
    gop_s: float = 2.0
    denoise: int = 0  # x264 ``nr`` / x265 ``nr-intra``+``nr-inter`` strength (0 off)
    frozen: tuple[float, float] | None = None  # seconds of the clip that repeat one frame
    freeze: str = "exact"  # exact | requant | clock
    clock: bool = False  # burn in a running clock over the whole clip
    seed: int = 0
    preset: str = "veryfast"
    bitrate_kbps: int = 0  # constant bitrate (VBV) instead of CRF: the QP moves with the content

    def label(self) -> str:
        kind = "live" if self.frozen is None else f"frozen-{self.freeze}"
        codec = "h265" if "265" in self.codec else "h264"
        rate = f"cbr{self.bitrate_kbps}k" if self.bitrate_kbps else f"crf{self.crf}"
        nr = f" nr{self.denoise}" if self.denoise else ""
        drift = f" drift{self.drift:g}" if self.drift else ""
        drift += f" gain{self.gain:g}" if self.gain != 1.0 else ""
        clock = " clock" if self.clock or self.freeze == "clock" else ""
        return (
            f"{kind} {self.plate[4:]} {self.size[1]}p {self.fps}fps {codec} {rate} "
            f"gop{self.gop_s:g}s sigma{self.sigma:g}{drift}{nr}{clock}"
        )


@cache
def plate_of(name: str, width: int, height: int) -> np.ndarray:
    """The median of every frame of ``REAL/<name>.mp4``, BGR float32, scaled to the size."""
    frames = []
    with av.open(str(REAL / f"{name}.mp4")) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="bgr24"))
    median = np.median(np.stack(frames), axis=0).astype(np.float32)
    interp = cv2.INTER_AREA if width < median.shape[1] else cv2.INTER_CUBIC
    return cv2.resize(median, (width, height), interpolation=interp)


def _noise_bank(sigma: float, size: tuple[int, int], seed: int) -> np.ndarray:
    w, h = size
    rng = np.random.default_rng([seed, 7])
    return rng.normal(0.0, sigma, (3, h + 96, w + 96)).astype(np.float32)


def burn_clock(image: np.ndarray, seconds: float) -> np.ndarray:
    """A white HH:MM:SS on a dark box at ``CLOCK_REGION``, as NVRs draw it."""
    h, w = image.shape[:2]
    x, y, rw, rh = CLOCK_REGION
    x0, y0, x1, y1 = int(x * w), int(y * h), int((x + rw) * w), int((y + rh) * h)
    out = image.copy()
    out[y0:y1, x0:x1] = 20
    s = int(seconds) + 8 * 3600 + 30 * 60
    text = f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"
    scale = (y1 - y0) / 30.0
    cv2.putText(out, text, (x0 + 2, y1 - 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (235,) * 3, 1)
    return out


def _requantise(image: np.ndarray, qp: int) -> np.ndarray:
    """``image`` through one intra H.264 encode and decode at ``qp`` (an upstream re-encode)."""
    h, w = image.shape[:2]
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = w, h, "yuv420p"
    codec.time_base = Fraction(1, 25)
    codec.options = {"qp": str(qp), "preset": "veryfast", "threads": "1"}
    frame = av.VideoFrame.from_ndarray(image, format="bgr24")
    packets = list(codec.encode(frame)) + list(codec.encode(None))
    decoder = av.CodecContext.create("h264", "r")
    out = [f for p in packets for f in decoder.decode(p)]
    out += list(decoder.decode(None))
    return out[-1].to_ndarray(format="bgr24")


def frames_of(room: Room):
    """Yield the BGR uint8 frames of ``room``."""
    w, h = room.size
    plate = plate_of(room.plate, w, h)
    bank = _noise_bank(room.sigma, room.size, room.seed) if room.sigma > 0 else None
    rng = np.random.default_rng([room.seed, 11])
    n = round(room.seconds * room.fps)
    held: np.ndarray | None = None
    requant: dict[int, np.ndarray] = {}
    for i in range(n):
        t = i / room.fps
        in_freeze = room.frozen is not None and room.frozen[0] <= t < room.frozen[1]
        if in_freeze and held is not None:
            image = held
            if room.freeze == "requant":
                gop = int((t - room.frozen[0]) // room.gop_s)
                if gop not in requant:
                    requant[gop] = _requantise(held, 16 + (gop * 3) % 9)
                image = requant[gop]
        else:
            gain = room.gain + room.gain * room.drift * np.sin(
                2 * np.pi * t / max(room.seconds, 1.0) - 0.5
            )
            image = plate * gain
            if bank is not None:
                k, dy, dx = rng.integers(0, 3), rng.integers(0, 96), rng.integers(0, 96)
                image = image + bank[k, dy : dy + h, dx : dx + w, None]
            image = np.clip(image + 0.5, 0, 255).astype(np.uint8)
            if in_freeze:
                held = image
        if room.clock or room.freeze == "clock":
            image = burn_clock(image, t)
        yield image


def encode(room: Room, path: Path) -> Path:
    """Encode ``room`` with a fixed keyframe interval, as an NVR does."""
    gop = max(1, round(room.gop_s * room.fps))
    with av.open(str(path), "w") as container:
        stream = container.add_stream(room.codec, rate=room.fps)
        stream.width, stream.height, stream.pix_fmt = *room.size, "yuv420p"
        stream.time_base = Fraction(1, room.fps)
        opts = {"preset": room.preset, "crf": str(room.crf)}
        vbv = ""
        if room.bitrate_kbps:
            del opts["crf"]
            stream.codec_context.bit_rate = room.bitrate_kbps * 1000
            vbv = f":vbv-maxrate={room.bitrate_kbps}:vbv-bufsize={room.bitrate_kbps}"
        if "265" in room.codec:
            nr = f":nr-intra={room.denoise}:nr-inter={room.denoise}" if room.denoise else ""
            opts["x265-params"] = (
                f"keyint={gop}:min-keyint={gop}:scenecut=0:pools=1:frame-threads=1:log-level=0"
                + nr
                + vbv
            )
        else:
            nr = f":nr={room.denoise}" if room.denoise else ""
            opts["x264-params"] = f"keyint={gop}:min-keyint={gop}:scenecut=0:threads=1" + nr + vbv
        stream.codec_context.options = opts
        for i, image in enumerate(frames_of(room)):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path
