"""The invigilator of a theory room over a session: seated at the front desk for long
stretches, pacing at the front or walking the centre aisle for others, out of the door.

A session's *plan* is a list of ``(what, until)`` steps; each starts where the previous one
ended and the person walks between them, so the ground truth (who is in which zone when)
follows from the same path that is rendered (:class:`pipeline.samples.people.Walker`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from pipeline.samples.people import (
    HORIZON_S,
    PROCTOR,
    Walker,
    Waypoint,
    _dedupe,
    _pacing,
    _seated_class,
)
from pipeline.samples.scene import Actor, _stable_int

# where the invigilator sits: behind the front desk, whose top edge hides the lower body (the
# visible body ends there, which is the point the zone test uses: inside the proctor zone)
DESK = (0.64, 0.51)
FRONT = ((0.34, 0.66), (0.74, 0.79))  # pacing in front of the blackboard
AISLE = ((0.40, 0.60), (0.80, 0.87))  # the centre aisle between the candidates' desks
DOOR = (-0.15, 0.72)  # out of the picture, through the door on the left
SPEED = 0.08  # frame widths per second

Plan = Sequence[tuple[str, float]]


def _walk_to(path: list[Waypoint], x: float, y: float) -> None:
    last = path[-1]
    walk = max(1.0, math.hypot(x - last.x, (y - last.y) * 0.6) / SPEED)
    path.append(Waypoint(last.t + walk, x, y, facing=1 if x >= last.x else -1))


def invigilator(seed: int, plan: Plan) -> Walker:
    """The invigilator following ``plan``: steps 'sit', 'front', 'aisle' or 'away' (out of
    the room), each lasting until its time (a walk between steps takes a few seconds more)."""
    rng = np.random.default_rng(_stable_int("invigilator", seed))
    path: list[Waypoint] = []
    for what, until in plan:
        if what == "sit":
            if path:
                _walk_to(path, *DESK)
                path[-1] = replace(path[-1], mode="sit")
            else:
                path.append(Waypoint(0.0, *DESK, mode="sit"))
            path.append(Waypoint(max(until, path[-1].t), *DESK, mode="sit"))
        elif what in ("front", "aisle"):
            xs, ys = FRONT if what == "front" else AISLE
            if path:
                _walk_to(path, float(rng.uniform(*xs)), float(rng.uniform(*ys)))
                start = path[-1]
                path += _pacing(rng, xs, ys, start.t, until, start.x, start.y)[1:]
            else:
                path += _pacing(rng, xs, ys, 0.0, until)
        elif what == "away":
            if not path:
                path.append(Waypoint(0.0, *DOOR))
            _walk_to(path, *DOOR)
            path.append(Waypoint(max(until, path[-1].t), *DOOR, facing=1))
        else:
            raise ValueError(f"unknown invigilator step {what!r}")
    if path[-1].t < HORIZON_S:
        path.append(replace(path[-1], t=HORIZON_S))
    return Walker(PROCTOR, tuple(_dedupe(path)), seed=seed)


ALL_SEATS = (0, 1, 2, 3)


def staffed_room(seed: int, plan: Plan, seats: Sequence[int] = ALL_SEATS) -> list[Actor]:
    """A theory room: the invigilator on ``plan`` and candidates in ``seats`` (indices of the
    room's four seats: back left, back right, front left, front right)."""
    class_ = _seated_class(seed, practical=False)
    return [invigilator(seed, plan), *(class_[i] for i in seats)]


PLANS: dict[str, tuple[Plan, Sequence[int]]] = {  # script -> (invigilator plan, seats taken)
    # the invigilator sits at the desk all session: present, never absent
    "proctor_seated": ((("sit", HORIZON_S),), ALL_SEATS),
    # at the desk, down the aisle, back at the desk: one invigilator; the front row taken only
    "desk_and_aisle": (
        (("sit", 35.0), ("aisle", 65.0), ("sit", HORIZON_S)),
        (2, 3),
    ),
    # down the centre aisle among the candidates, then pacing at the front
    "walks_the_aisle": ((("aisle", 90.0), ("front", HORIZON_S)), ALL_SEATS),
    # seated first, pacing, out of the room for over a minute, pacing, back to the desk
    "proctor_leaves": (
        (("sit", 30.0), ("front", 42.0), ("away", 115.0), ("front", 140.0), ("sit", HORIZON_S)),
        ALL_SEATS,
    ),
}


def script(name: str, seed: int) -> list[Actor]:
    plan, seats = PLANS[name]
    return staffed_room(seed, plan, seats)
