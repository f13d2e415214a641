"""Write the whole sample centre: recordings, schedule.csv, site.toml, ground_truth.json."""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.samples import dayplan, people
from pipeline.samples.dayplan import (
    FPS,
    GOP_S,
    SESSIONS,
    CameraSpec,
    SessionSpec,
    file_name,
    iso_utc,
)
from pipeline.samples.faults import Expected, FilePlan, Reuse, Turned, expected, timeline
from pipeline.samples.render import Shot, render_shots, write_clip
from pipeline.samples.scene import Scene, _stable_int, draw_room, turn_matrix


def _scene(spec: SessionSpec, cam: CameraSpec, seed: int, rooms: dict) -> Scene:
    if cam.camera_id not in rooms:
        rooms[cam.camera_id] = draw_room(cam.width, cam.height, cam.kind, cam.variant)
    return Scene(
        rooms[cam.camera_id],
        fps=FPS,
        seed=_stable_int("scene", seed, spec.session_id),
        actors=people.cast(spec.people, _stable_int("cast", seed, spec.session_id)),
    )


def _shots(
    plan: FilePlan, scene: Scene, start_local: datetime, cam: CameraSpec, black_seed: int
) -> list[Shot]:
    shots = []
    for slot in plan.slots:
        content = slot.frozen_at_s if slot.frozen_at_s is not None else slot.content_s
        shift = (
            turn_matrix(
                cam.width, cam.height, slot.turned.dx, slot.turned.dy, slot.turned.angle_deg
            )
            if slot.turned
            else None
        )
        shots.append(
            Shot(
                None if slot.black else scene,
                round(content * FPS),
                start_local + timedelta(seconds=slot.clock_s),
                shift,
                black_seed,
            )
        )
    return shots


def _session_scene(spec: SessionSpec, seed: int, rooms: dict) -> Scene:
    """The scene a session's recording shows (another session's for a re-used recording)."""
    reuse = next((f for f in spec.faults if isinstance(f, Reuse)), None)
    source = dayplan.session(reuse.source_session) if reuse else spec
    return _scene(source, dayplan.camera(source.camera_id), seed, rooms)


def _encode_file(out_dir: Path, seed: int, session_id: str, index: int) -> str:
    """Encode file ``index`` of a session; a pure function of its arguments (runs in a worker)."""
    spec = dayplan.session(session_id)
    cam = dayplan.camera(spec.camera_id)
    start_local = spec.start_local()
    plan = timeline(spec.faults, spec.duration_s, FPS)[index]
    scene = _session_scene(spec, seed, {})
    file_start = start_local + timedelta(seconds=plan.start_s)
    name = file_name(cam.camera_id, file_start)
    shots = _shots(plan, scene, start_local, cam, _stable_int("black", seed, spec.session_id))
    write_clip(
        Path(out_dir) / name,
        render_shots(shots, (cam.width, cam.height)),
        fps=FPS,
        gop_s=GOP_S,
        size=(cam.width, cam.height),
        pts=[slot.pts for slot in plan.slots],
        creation_time=file_start,
    )
    return name


def generate(
    out_dir: Path,
    seed: int = 0,
    *,
    sessions: Iterable[str] | None = None,
    workers: int | None = None,
) -> Path:
    """Write the sample centre for ``seed`` into ``out_dir`` (created; old .mp4 files removed).

    Deterministic: the same seed gives the same frames, bytes, file names and ground truth,
    however many ``workers`` (processes; default: CPU count, at most 4) encode the files.
    ``sessions`` limits which sessions' recordings are encoded (tests that need only a few);
    schedule.csv, site.toml and ground_truth.json always describe the whole centre.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = None if sessions is None else set(sessions)
    unknown = (wanted or set()) - {s.session_id for s in SESSIONS}
    if unknown:
        raise ValueError(f"unknown sample sessions: {sorted(unknown)}")
    for old in out_dir.glob("*.mp4"):
        old.unlink()
    rooms: dict = {}
    findings: list[dict] = []
    facts: dict[str, dict] = {}
    clean: list[str] = []
    unplanned: dict[str, dict] = {}
    jobs: list[tuple[str, int]] = []
    min_height = dayplan.RULES["min_height"]
    for spec in SESSIONS:
        cam = dayplan.camera(spec.camera_id)
        start_local = spec.start_local()
        plans = timeline(spec.faults, spec.duration_s, FPS)
        scene = _session_scene(spec, seed, rooms)
        names = []
        for index, plan in enumerate(plans):
            file_start = start_local + timedelta(seconds=plan.start_s)
            name = file_name(cam.camera_id, file_start)
            names.append(name)
            if cam.height < min_height:
                findings.append(
                    _finding(
                        "format_noncompliant",
                        None,
                        cam.camera_id,
                        file_start,
                        file_start + timedelta(seconds=plan.duration_s),
                        name,
                        f"{cam.width}x{cam.height} is below min_height {min_height}",
                    )
                )
            if wanted is None or spec.session_id in wanted:
                jobs.append((spec.session_id, index))
        if not spec.planned:  # a camera-level finding; no session of the plan
            findings.append(
                _finding(
                    "unscheduled_activity",
                    None,
                    cam.camera_id,
                    start_local,
                    start_local + timedelta(seconds=spec.duration_s),
                    names[0],
                    f"{spec.note}: a class seated for {spec.duration_s:.0f} s",
                )
            )
            unplanned[spec.session_id] = {"camera_id": spec.camera_id, "files": names}
            continue
        session_findings = expected(spec.faults, spec.duration_s, plans, start_local)
        session_findings += _people_expected(spec, cam, plans, scene)
        if not people.has_people(spec.people):
            session_findings.append(
                Expected("session_not_held", 0.0, spec.duration_s, 0, "planned exam, room empty")
            )
        for e in session_findings:
            findings.append(_session_finding(e, spec, names, start_local))
        if not session_findings and cam.height >= min_height:
            clean.append(spec.session_id)
        facts[spec.session_id] = {
            "camera_id": spec.camera_id,
            "exam_type": spec.exam_type,
            "proctors_required": spec.proctors,
            "candidates": spec.candidates,
            **_head_counts(spec, cam, plans, scene),
            "people": people.has_people(spec.people),
            "people_script": spec.people,
            "faults": [type(f).__name__ for f in spec.faults],
            "files": names,
            "note": spec.note,
        }
        reuse = next((f for f in spec.faults if isinstance(f, Reuse)), None)
        if reuse:
            facts[spec.session_id]["reused_from"] = reuse.source_session
    _run_jobs(out_dir, seed, jobs, workers)
    findings.sort(key=lambda f: (f["start"], f["camera_id"], f["kind"]))
    (out_dir / "schedule.csv").write_text(dayplan.schedule_csv(), encoding="utf-8")
    (out_dir / "site.toml").write_text(dayplan.site_toml(), encoding="utf-8")
    truth = {
        "seed": seed,
        "generator_version": dayplan.GENERATOR_VERSION,
        "timezone": dayplan.TIMEZONE,
        "rules": dayplan.RULES,
        "findings": findings,
        "clean_sessions": clean,
        "sessions": facts,
        "unplanned": unplanned,  # recorded activity that schedule.csv does not list
    }
    (out_dir / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return out_dir


def _run_jobs(out_dir: Path, seed: int, jobs: list[tuple[str, int]], workers: int | None) -> None:
    """Encode the files, in worker processes when there are several cores."""
    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    if workers <= 1 or len(jobs) <= 1:
        for session_id, index in jobs:
            _encode_file(out_dir, seed, session_id, index)
        return
    # spawn: a clean interpreter per worker, safe whatever threads the caller has started
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
        futures = [pool.submit(_encode_file, out_dir, seed, sid, index) for sid, index in jobs]
        for future in futures:
            future.result()


def _finding(kind, session_id, camera_id, start, end, source_file, detail) -> dict:
    return {
        "kind": kind,
        "session_id": session_id,
        "camera_id": camera_id,
        "start": iso_utc(start),
        "end": iso_utc(end),
        "source_file": source_file,
        "detail": detail,
    }


def _session_finding(
    e: Expected, spec: SessionSpec, names: list[str], start_local: datetime
) -> dict:
    return _finding(
        e.kind,
        spec.session_id,
        spec.camera_id,
        start_local + timedelta(seconds=e.start_s),
        start_local + timedelta(seconds=e.end_s),
        names[e.file_index] if e.file_index is not None else None,
        e.detail,
    )


def _runs(
    samples: list[tuple[float, bool | None]], min_s: float, step: float
) -> list[tuple[float, float]]:
    """Runs of False (absent / idle) at least ``min_s`` long; None (no picture) or a hole in
    the timeline ends a run."""
    out: list[tuple[float, float]] = []
    start = last = None
    for t, ok in [*samples, (float("inf"), None)]:
        if start is not None and (ok is not False or t - last > 1.5 * step):
            if last + step - start >= min_s - 1e-9:
                out.append((start, last + step))
            start = last = None
        if ok is False:
            start = t if start is None else start
            last = t
    return out


def _people_expected(
    spec: SessionSpec, cam: CameraSpec, plans: list[FilePlan], scene: Scene
) -> list[Expected]:
    """proctor_absent / qa_substitution / proctor_understaffed / candidate_count_mismatch
    implied by the rendered paths, frame by frame."""
    step = 1.0 / FPS
    actors = scene.actors
    rules = dayplan.RULES
    proctor: list[tuple[float, bool | None]] = []
    station: list[tuple[float, bool | None]] = []
    staffed: list[tuple[float, bool | None]] = []
    seated: list[tuple[float, int]] = []  # (time, candidates) where the picture shows people
    for plan in plans:
        for slot in plan.slots:
            s = plan.start_s + slot.pts / FPS
            if slot.black:
                proctor.append((s, None))
                station.append((s, None))
                staffed.append((s, None))
                continue
            t = slot.frozen_at_s if slot.frozen_at_s is not None else slot.content_s
            transform = _turn_transform(cam, slot.turned) if slot.turned else None
            proctor.append(
                (s, people.zone_runs(actors, cam.proctor_zone, [t], transform=transform)[0])
            )
            on_duty = _zone_count(actors, cam.proctor_zone, t, transform)
            staffed.append((s, on_duty >= spec.proctors))
            if cam.candidate_zone and slot.frozen_at_s is None and slot.turned is None:
                seated.append((s, _zone_count(actors, cam.candidate_zone, t, None)))
            if cam.station_zone:
                station.append(
                    (s, people.zone_runs(actors, cam.station_zone, [t], transform=transform)[0])
                )
    out = []
    for a, b in _runs(proctor, rules["min_proctor_absence_s"], step):
        detail = (
            "nobody in the proctor zone" if actors else "empty room: nobody in the proctor zone"
        )
        out.append(
            Expected("proctor_absent", a, min(b, spec.duration_s), _file_index(plans, a), detail)
        )
    if spec.proctors >= 2:
        for a, b in _runs(staffed, rules["min_understaffed_s"], step):
            detail = f"fewer than {spec.proctors} invigilators in the proctor zone"
            out.append(
                Expected(
                    "proctor_understaffed",
                    a,
                    min(b, spec.duration_s),
                    _file_index(plans, a),
                    detail,
                )
            )
    if seated:
        counts = sorted(n for _, n in seated)
        seen = counts[len(counts) // 2]  # the count seen in at least half the samples
        if abs(seen - spec.candidates) > rules["candidate_count_tolerance"] * spec.candidates:
            a = seated[0][0]
            b = min(seated[-1][0] + step, spec.duration_s)
            detail = f"{seen} candidates in the candidate zone, {spec.candidates} on the roster"
            out.append(Expected("candidate_count_mismatch", a, b, _file_index(plans, a), detail))
    if spec.exam_type == "practical" and cam.station_zone:
        for a, b in _runs(station, rules["min_station_idle_s"], step):
            out.append(
                Expected(
                    "qa_substitution",
                    a,
                    min(b, spec.duration_s),
                    _file_index(plans, a),
                    "people present, nobody working at the station (oral Q&A)",
                )
            )
    return out


def _head_counts(spec: SessionSpec, cam: CameraSpec, plans: list[FilePlan], scene: Scene) -> dict:
    """The people really in the proctor and candidate zones: the count seen in at least half
    of the recorded frames with a usable picture (None: not recorded, or no candidate zone)."""
    proctors, seated = [], []
    for plan in plans:
        for slot in plan.slots:
            if slot.black or slot.frozen_at_s is not None or slot.turned is not None:
                continue
            proctors.append(_zone_count(scene.actors, cam.proctor_zone, slot.content_s, None))
            if cam.candidate_zone:
                seated.append(_zone_count(scene.actors, cam.candidate_zone, slot.content_s, None))

    def robust(counts: list[int]) -> int | None:
        return sorted(counts)[len(counts) // 2] if counts else None

    return {"proctors_present": robust(proctors), "candidates_present": robust(seated)}


def _zone_count(actors, polygon, t: float, transform) -> int:
    """People whose anchor lies in ``polygon`` at scene time ``t``."""
    count = 0
    for actor in actors:
        point = actor.anchor(t)
        if point is not None and transform is not None:
            point = transform(0, point)
        count += people.in_zone(point, polygon)
    return count


def _file_index(plans: list[FilePlan], s: float) -> int | None:
    return next((i for i, p in enumerate(plans) if p.start_s - 1e-6 <= s < p.end_s), None)


def _turn_transform(cam: CameraSpec, turned: Turned):
    matrix = turn_matrix(cam.width, cam.height, turned.dx, turned.dy, turned.angle_deg)

    def apply(_i: int, point: tuple[float, float]) -> tuple[float, float]:
        x, y = point[0] * cam.width, point[1] * cam.height
        return (
            (matrix[0, 0] * x + matrix[0, 1] * y + matrix[0, 2]) / cam.width,
            (matrix[1, 0] * x + matrix[1, 1] * y + matrix[1, 2]) / cam.height,
        )

    return apply
