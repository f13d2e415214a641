"""Realistic benchmark recordings, built quickly and cached under benchmarks/work/ (ignored).

An exam room from the samples' compositor (static room, real people cut out of MOT15 clips,
sensor noise, lighting drift) with a burned-in NVR clock, encoded as NVRs do (25 fps, fixed
GOP, crf 23: about 3-4 Mbit/s at 1080p). H.264 recordings up to 10 minutes are rendered whole,
in one-minute parts (encoded in parallel) remuxed with continuous timestamps, so the clock runs
on and nothing repeats. Longer or H.265 recordings are tiled from ten-second parts in an order
where no two parts follow each other twice: no stretch of 20 s or more ever repeats, so the
loop check has nothing to find (these carry no clock, which would jump between tiles).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import av
import numpy as np

from pipeline.samples import Scene, draw_room, write_clip
from pipeline.samples import people as people_mod
from pipeline.samples.clock import CLOCK_REGION, burn_clock
from pipeline.samples.scene import CANDIDATE_ZONE, THEORY_PROCTOR_ZONE

WORK = Path(__file__).resolve().parent / "work"
TIMEZONE = "Asia/Shanghai"
START = datetime(2022, 3, 15, 8, 0, 0, tzinfo=ZoneInfo(TIMEZONE))
CODECS = {"h264": "libx264", "hevc": "libx265"}
UNIQUE_PART_S = 60
TILE_PART_S = 10


@dataclass(frozen=True)
class MediaSpec:
    width: int = 1920
    height: int = 1080
    codec: str = "h264"  # h264 | hevc
    gop: int = 50
    fps: int = 25
    minutes: float = 10

    @property
    def name(self) -> str:
        return f"room_{self.height}p_{self.codec}_gop{self.gop}_{self.minutes:g}min"

    @property
    def tiled(self) -> bool:
        return self.codec != "h264" or self.minutes > 10


def _frames(
    spec: MediaSpec, seed: int, first: int, count: int, clock: bool
) -> Iterator[np.ndarray]:
    scene = Scene(
        draw_room(spec.width, spec.height, "theory"),
        fps=spec.fps,
        seed=seed,
        actors=people_mod.cast("class", seed),
    )
    for i in range(first, first + count):
        frame = scene.render(i)
        if clock:
            burn_clock(frame, START + timedelta(seconds=i / spec.fps), CLOCK_REGION)
        yield frame


def _encode_part(args: tuple[MediaSpec, Path, int, int, int, bool]) -> Path:
    spec, path, seed, first, count, clock = args
    if not path.exists():
        tmp = path.with_suffix(".tmp.mp4")
        write_clip(
            tmp,
            _frames(spec, seed, first, count, clock),
            fps=spec.fps,
            gop_s=spec.gop / spec.fps,
            crf=23,
            x264_params="",
            codec=CODECS[spec.codec],
        )
        tmp.rename(path)
    return path


def concat(parts: Sequence[Path], out: Path) -> Path:
    """Remux ``parts`` one after another with continuous timestamps (no re-encoding)."""
    tmp = out.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as dst:
        ostream = None
        offset = 0
        for part in parts:
            with av.open(str(part)) as src:
                istream = src.streams.video[0]
                if ostream is None:
                    ostream = dst.add_stream_from_template(istream)
                end = 0
                for packet in src.demux(istream):
                    if packet.dts is None:
                        continue
                    end = max(end, packet.pts + (packet.duration or 0))
                    packet.pts += offset
                    packet.dts += offset
                    packet.stream = ostream
                    dst.mux(packet)
                offset += end
    tmp.rename(out)
    return out


def pair_free_order(k: int, n: int) -> list[int]:
    """``n`` indices from ``range(k)`` in which no ordered pair of neighbours repeats (an
    Eulerian circuit of the complete directed graph on k nodes, cut to length n)."""
    if n > k * (k - 1) + 1:
        raise ValueError(f"{k} parts give at most {k * (k - 1) + 1} tiles without a repeat")
    unused = {a: [b for b in range(k) if b != a] for a in range(k)}
    stack, circuit = [0], []
    while stack:  # Hierholzer
        node = stack[-1]
        if unused[node]:
            stack.append(unused[node].pop())
        else:
            circuit.append(stack.pop())
    return circuit[::-1][:n]


def _pool(jobs: list, workers: int | None) -> list[Path]:
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    if workers <= 1:
        return [_encode_part(j) for j in jobs]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_encode_part, jobs))


def recording(spec: MediaSpec, workers: int | None = None) -> Path:
    """The cached recording for ``spec`` (built on first use)."""
    WORK.mkdir(parents=True, exist_ok=True)
    out = WORK / f"{spec.name}.mp4"
    if out.exists():
        return out
    total = int(spec.minutes * 60)
    tag = f"{spec.height}p_{spec.codec}_gop{spec.gop}"
    if not spec.tiled:
        jobs = [
            (
                spec,
                WORK / f"part_{tag}_{i:03d}.mp4",
                7,
                i * UNIQUE_PART_S * spec.fps,
                UNIQUE_PART_S * spec.fps,
                True,
            )
            for i in range(math.ceil(total / UNIQUE_PART_S))
        ]
        return concat(_pool(jobs, workers), out)
    tiles = math.ceil(total / TILE_PART_S)
    k = next(k for k in itertools.count(2) if k * (k - 1) + 1 >= tiles)
    jobs = [
        (spec, WORK / f"tile_{tag}_{i:03d}.mp4", 100 + i, 0, TILE_PART_S * spec.fps, False)
        for i in range(k)
    ]
    parts = _pool(jobs, workers)
    return concat([parts[i] for i in pair_free_order(k, tiles)], out)


def split(path: Path, folder: Path, pieces: int, camera: str = "cam01") -> list[Path]:
    """Cut a recording at keyframes into ``pieces`` NVR-named segments (remux, no decoding)."""
    folder.mkdir(parents=True, exist_ok=True)
    with av.open(str(path)) as src:
        stream = src.streams.video[0]
        tb = float(stream.time_base)
        duration = float(stream.duration * stream.time_base)
        bounds = [duration * i / pieces for i in range(1, pieces)] + [math.inf]
        out_paths: list[Path] = []
        dst = ostream = None
        first_pts = 0
        for packet in src.demux(stream):
            if packet.dts is None:
                continue
            t = packet.pts * tb
            if dst is None or (packet.is_keyframe and t >= bounds[len(out_paths) - 1]):
                if dst is not None:
                    dst.close()
                name = f"{camera}_{(START + timedelta(seconds=t)).strftime('%Y%m%dT%H%M%S')}.mp4"
                out_paths.append(folder / name)
                dst = av.open(str(out_paths[-1]), "w")
                ostream = dst.add_stream_from_template(stream)
                first_pts = packet.pts
            packet.pts -= first_pts
            packet.dts -= first_pts
            packet.stream = ostream
            dst.mux(packet)
        if dst is not None:
            dst.close()
    return out_paths


def _polygon(points: Sequence[tuple[float, float]]) -> str:
    return "[" + ", ".join(f"[{x}, {y}]" for x, y in points) + "]"


def centre(folder: Path, files: Sequence[Path], camera: str = "cam01", clock: bool = True) -> Path:
    """A recordings folder for `examaudit scan`: links to ``files`` (NVR names kept or given),
    one theory session spanning them, and a site.toml with the room's zones, as the samples
    declare them (without them the whole frame is the proctor zone, nobody counts as a
    candidate and the session reads as not held), and the clock region if ``clock``."""
    folder.mkdir(parents=True, exist_ok=True)
    start, end = None, None
    for f in files:
        target = (
            folder / f.name
            if f.name.startswith(f"{camera}_")
            else folder / f"{camera}_{START.strftime('%Y%m%dT%H%M%S')}.mp4"
        )
        if not target.exists():
            os.link(f, target) if f.stat().st_dev == folder.stat().st_dev else target.symlink_to(f)
        with av.open(str(f)) as c:
            seconds = float(c.duration or 0) / 1e6
        local = datetime.strptime(target.stem.split("_")[1], "%Y%m%dT%H%M%S").replace(
            tzinfo=ZoneInfo(TIMEZONE)
        )
        start = min(start or local, local)
        end = max(end or local, local + timedelta(seconds=seconds))
    (folder / "schedule.csv").write_text(
        "session_id,centre_id,room_id,camera_id,exam_type,subject,scheduled_start,"
        "scheduled_end,candidates,proctors_required\n"
        f"B1,C1,R1,{camera},theory,benchmark,{start.isoformat()},"
        f"{(end - timedelta(seconds=1)).isoformat()},4,1\n"
    )
    x, y, w, h = CLOCK_REGION
    region = f"clock_region = [{x}, {y}, {w}, {h}]\n" if clock else ""
    zones = (
        f"proctor_zone = {_polygon(THEORY_PROCTOR_ZONE)}\n"
        f"candidate_zone = {_polygon(CANDIDATE_ZONE)}\n"
    )
    (folder / "site.toml").write_text(
        f'timezone = "{TIMEZONE}"\n[rules]\nmin_height = 720\n[cameras.{camera}]\n{zones}{region}'
    )
    return folder
