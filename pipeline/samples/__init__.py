"""Deterministic synthetic exam centre: `examaudit samples OUT_DIR --seed N`.

Modules: scene (rooms, noise, lighting drift), clock (burned-in NVR clock), render (encoding,
segments, PTS), faults (injections and the findings they imply), people (real people cut out
of MOT15 TUD clips), dayplan (cameras, sessions, schedule.csv, site.toml), centre (generate():
ties them together and writes ground_truth.json), clips (make_clip(): one clip for a test),
cutouts (rebuilds the people asset from the real clips).
"""

from __future__ import annotations

from pipeline.samples.centre import generate
from pipeline.samples.clips import make_clip
from pipeline.samples.render import Shot, render_shots, write_clip
from pipeline.samples.scene import Scene, black_frame, draw_room, turn_matrix

__all__ = [
    "Scene",
    "Shot",
    "black_frame",
    "draw_room",
    "generate",
    "make_clip",
    "render_shots",
    "turn_matrix",
    "write_clip",
]
