"""Footage for the re-use robustness matrix (issue 18), built from the real MOT15 clips.

The room is real: the per-pixel median plate of TUD-Stadtmitte (people removed with the
benchmark's boxes). The people are real too: the samples' cut-outs of MOT15 pedestrians,
walking and pausing on seeded, non-periodic paths. A *session* is one seed: the same seed is
the same people at the same moments, another seed is the same room with other people. A
re-used copy is a stretch of one session's file run through the export an archive forger
would use (FFmpeg: scale, brightness, contrast, gamma, crop, fps, CRF, codec, re-timing).

:func:`analyse` runs the real per-file stages (probe, sampling, the picture and fingerprint
analysers, the batch loop finder, frame-by-frame refinement) on a folder's files.
"""

from __future__ import annotations

import subprocess
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

SIZE = (320, 240)
FPS = 25
T0 = datetime(2022, 3, 15, 0, 30, tzinfo=UTC)


@lru_cache(maxsize=2)
def room_plate(real_dir: Path, size: tuple[int, int] = SIZE) -> np.ndarray:
    """TUD-Stadtmitte without its people, limited-range BGR at ``size``."""
    from pipeline.samples.cutouts import _background, _read_clip
    from pipeline.samples.scene import _limited

    frames = _read_clip(real_dir / "TUD-Stadtmitte.mp4")
    boxes = np.loadtxt(real_dir / "TUD-Stadtmitte.gt.txt", delimiter=",")
    f = size[0] / frames[0].shape[1]
    boxes[:, 2:6] *= f
    frames = [cv2.resize(x, size, interpolation=cv2.INTER_AREA) for x in frames]
    with warnings.catch_warnings():  # pixels every frame's box covers: the plain median
        warnings.simplefilter("ignore", RuntimeWarning)
        return _limited(_background(frames, boxes))


def actors(seed: int, people: int = 3) -> list:
    """Walkers on seeded paths over the whole frame: who moves where, when, is the session."""
    from pipeline.samples.people import Walker, _dedupe, _pacing
    from pipeline.samples.scene import _stable_int

    out = []
    for k in range(people):
        rng = np.random.default_rng(_stable_int("reuse", seed, k))
        y = (0.62 + 0.12 * k, 0.70 + 0.12 * k)
        path = _dedupe(_pacing(rng, (0.1, 0.9), y, -float(rng.uniform(0, 8)), 200.0))
        out.append(Walker(k % 4, tuple(path), height=0.34 + 0.06 * k, seed=seed * 10 + k))
    return out


def render(
    path: Path,
    real_dir: Path,
    seconds: float,
    seed: int | None,
    *,
    view: tuple[float, float, float, float] | None = None,
) -> Path:
    """A session's recording: ``seed`` None is the empty room; ``view`` (x, y, w, h,
    normalised) films the same scene through a second camera's narrower view."""
    from pipeline.samples import write_clip
    from pipeline.samples.scene import Scene

    if path.exists():
        return path
    scene = Scene(
        room_plate(real_dir),
        fps=FPS,
        seed=seed or 0,
        actors=actors(seed) if seed is not None else (),
    )
    w, h = SIZE

    def frames():
        for i in range(round(seconds * FPS)):
            frame = scene.render(i)
            if view is None:
                yield frame
                continue
            bgr = cv2.cvtColor(frame, cv2.COLOR_YUV2BGR_I420)
            x, y, vw, vh = view
            crop = bgr[int(y * h) : int((y + vh) * h), int(x * w) : int((x + vw) * w)]
            yield cv2.resize(crop, SIZE, interpolation=cv2.INTER_LINEAR)

    tmp = path.with_suffix(".tmp.mp4")
    write_clip(tmp, frames(), fps=FPS)
    tmp.rename(path)
    return path


@dataclass(frozen=True)
class Export:
    """What the forger's export does to the copied stretch."""

    scale: float = 1.0  # scaled to this and back
    brightness: float = 1.0  # luma gain
    contrast: float = 1.0
    gamma: float = 1.0
    crop: float = 0.0  # share cut off (then scaled back to the full size)
    fps: int = FPS
    crf: int = 23
    codec: str = "libx264"
    retime_s: float = 0.0  # timestamps shifted by this

    def filters(self) -> str:
        w, h = SIZE
        out = []
        if self.scale != 1.0:
            sw, sh = 2 * round(w * self.scale / 2), 2 * round(h * self.scale / 2)
            out += [f"scale={sw}:{sh}:flags=bicubic", f"scale={w}:{h}:flags=bicubic"]
        if self.crop:
            cw, ch = 2 * round(w * (1 - self.crop) / 2), 2 * round(h * (1 - self.crop) / 2)
            out += [f"crop={cw}:{ch}:{(w - cw) // 3}:{(h - ch) // 2}", f"scale={w}:{h}"]
        if (self.brightness, self.contrast, self.gamma) != (1.0, 1.0, 1.0):
            g = 1.0 / self.gamma
            gain, c = self.brightness, self.contrast
            out.append(f"lutyuv=y='clip(({gain}*255*pow(val/255,{g})-128)*{c}+128,16,235)'")
        if self.fps != FPS:
            out.append(f"fps={self.fps}")
        return ",".join(out) or "null"


@dataclass(frozen=True)
class Case:
    """One matrix row: files to render, and the copy's stretch (None for a negative control)."""

    name: str
    export: Export | None = None
    negative: str | None = None  # other_people | empty | two_cameras | other_people_export
    copy_from_s: float = 6.0
    copy_s: float = 28.0
    seconds: float = 36.0
    extra: dict = field(default_factory=dict)


def export_copy(src: Path, dst: Path, start_s: float, seconds: float, ex: Export) -> Path:
    """Cut ``seconds`` from ``start_s`` and re-encode them as ``ex`` says (FFmpeg)."""
    import imageio_ffmpeg

    if dst.exists():
        return dst
    tmp = dst.with_suffix(".tmp.mp4")
    codec = ["-c:v", ex.codec, "-crf", str(ex.crf), "-preset", "veryfast", "-pix_fmt", "yuv420p"]
    if ex.codec == "libx265":
        codec += ["-x265-params", "log-level=error", "-tag:v", "hvc1"]
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-ss", f"{start_s + ex.retime_s}"]
    cmd += ["-t", f"{seconds}", "-i", str(src), "-vf", ex.filters(), "-an", *codec, str(tmp)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    tmp.rename(dst)
    return dst


def build(case: Case, real_dir: Path, work: Path) -> list[tuple[Path, str, str, datetime]]:
    """The case's files as (path, camera, session, start); the copy (or control) is second."""
    work.mkdir(parents=True, exist_ok=True)
    a = render(work / "s1.mp4", real_dir, case.seconds, 1)
    later = T0 + timedelta(days=7)
    if case.export is not None:
        b = export_copy(
            a, work / f"copy_{case.name}.mp4", case.copy_from_s, case.copy_s, case.export
        )
        return [(a, "cam01", "S1", T0), (b, "cam02", "S2", later)]
    if case.negative == "other_people":
        b = render(work / "s2.mp4", real_dir, case.seconds, 2)
    elif case.negative == "other_people_export":
        src = render(work / "s2.mp4", real_dir, case.seconds, 2)
        b = export_copy(src, work / f"neg_{case.name}.mp4", 0.0, case.seconds, Export(**case.extra))
    elif case.negative == "empty":
        b = render(work / "empty.mp4", real_dir, case.seconds, None)
    elif case.negative == "two_cameras":
        b = render(work / "s1_cam2.mp4", real_dir, case.seconds, 1, view=(0.3, 0.25, 0.6, 0.6))
        return [(a, "cam01", "S1", T0), (b, "cam02", "S1b", T0)]
    else:
        raise ValueError(case.negative)
    return [(a, "cam01", "S1", T0), (b, "cam01", "S2", later)]


def analyse(files: list[tuple[Path, str, str, datetime]], site=None):
    """(path, camera, session, start) per file -> (looped_footage events refined, as found,
    timeline): the loops check's analysers and finder only (no clock OCR, no other check)."""
    from pipeline.checks.registry import get
    from pipeline.checks.runner import analyse_files
    from pipeline.findings.loops import find_loops
    from pipeline.inputs.config import Analysis, Rules, Site
    from pipeline.refine import refine_events
    from pipeline.signals import analysers_filling

    site = site or Site(rules=Rules(), analysis=Analysis(sample_every_s=2.0, width=320))
    loops = get("loops")
    analysers = analysers_filling((*loops.needs, *loops.writes))
    timeline, contexts, probes = analyse_files(files, site, analysers)
    events = find_loops(timeline, contexts, site.rules)
    return refine_events(events, probes, site), events, timeline
