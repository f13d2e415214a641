"""The plan against what the cameras saw: one strip per room and day (checklist item 3).

Each strip spans the day's first to last planned or observed minute. Planned sessions are
blocks (hatched when the room stayed empty: ``session_not_held``); activity outside the plan
(``unscheduled_activity``) and sessions derived without a plan are blocks of their own
colour on a second row, so an exam held at another time than planned shows at a glance.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo


def _block(kind: str, a: datetime, b: datetime, lo: float, span: float, tz, label: str) -> dict:
    x = 100.0 * (a.timestamp() - lo) / span
    w = max(0.4, 100.0 * (b.timestamp() - a.timestamp()) / span)
    return {
        "kind": kind,
        "x": round(x, 2),
        "w": round(w, 2),
        "label": label,
        "title": f"{label} {a.astimezone(tz):%H:%M}-{b.astimezone(tz):%H:%M}",
    }


def plan_strips(
    sessions: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]], tz: ZoneInfo
) -> list[dict[str, Any]]:
    """Per (camera, local day): the planned row and the observed row of blocks."""
    not_held = {e["session_id"] for e in events if e["kind"] == "session_not_held"}
    groups: dict[tuple[str, str], dict[str, list]] = {}

    def group(camera: str, t: datetime) -> dict[str, list]:
        key = (camera or "", t.astimezone(tz).strftime("%Y-%m-%d"))
        return groups.setdefault(key, {"planned": [], "observed": [], "room": []})

    for s in sessions:
        g = group(s["camera_id"], s["scheduled_start"])
        planned = s.get("planned") is not False
        kind = ("not_held" if s["session_id"] in not_held else "planned") if planned else "derived"
        g["planned" if planned else "observed"].append(
            (kind, s["scheduled_start"], s["scheduled_end"], s["session_id"])
        )
        if s.get("room_id"):
            g["room"].append(s["room_id"])
    for e in events:
        if e["kind"] == "unscheduled_activity":
            group(e["camera_id"], e["start"])["observed"].append(
                ("unscheduled", e["start"], e["end"], e["event_id"])
            )
    out = []
    for (camera, day), g in sorted(groups.items()):
        spans = g["planned"] + g["observed"]
        lo = min(a.timestamp() for _, a, _, _ in spans)
        hi = max(b.timestamp() for _, _, b, _ in spans)
        span = max(hi - lo, 60.0)
        rows = {
            row: [_block(k, a, b, lo, span, tz, label) for k, a, b, label in g[row]]
            for row in ("planned", "observed")
        }
        out.append(
            {
                "camera": camera,
                "room": g["room"][0] if g["room"] else "",
                "date": day,
                "from": datetime.fromtimestamp(lo, tz).strftime("%H:%M"),
                "to": datetime.fromtimestamp(hi, tz).strftime("%H:%M"),
                "unplanned": sum(b["kind"] == "unscheduled" for b in rows["observed"]),
                "not_held": sum(b["kind"] == "not_held" for b in rows["planned"]),
                **rows,
            }
        )
    return out
