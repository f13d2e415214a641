"""Still rooms from real pictures: live rooms must never be frozen, stopped feeds always.

Usage: ``python -m benchmarks.bench_still [--quick]``. Prints one row per condition:
frozen stretches found / expected (within +-2 s) and false frozen seconds. Needs the real
clips in ``../shared/data/real/``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.still_scan import scan_room
from benchmarks.stillroom import REAL, Room


def matrix(quick: bool = False) -> list[Room]:
    """Live rooms (noise 0.5-5, drift, denoise, CRF 18-32, GOP 1-10 s, 10-25 fps, 480p-1080p,
    H.264 and H.265) and frozen feeds (exact, re-quantised, constant bitrate, running clock)."""
    rooms: list[Room] = []
    for sigma in (0.5, 2.0, 5.0):
        for crf in (18, 32):
            rooms.append(Room(sigma=sigma, crf=crf))
    rooms += [
        Room(sigma=1.0, drift=0.15, crf=23),
        Room(sigma=0.5, drift=0.15, crf=28, plate="TUD-Stadtmitte", size=(854, 480)),
        Room(sigma=0.5, crf=23, denoise=1000),
        Room(sigma=0.5, crf=28, codec="libx265", size=(854, 480)),
        Room(sigma=0.5, crf=18, size=(1440, 1080), seconds=20),
        Room(sigma=0.5, crf=28, size=(1280, 720), fps=25, gop_s=1, seconds=20),
        Room(sigma=1.0, crf=23, gop_s=10, fps=15, seconds=46),
        Room(sigma=1.0, crf=23, clock=True),
        Room(sigma=1.0, bitrate_kbps=400),
        Room(sigma=0.5, crf=23, codec="libx265", size=(1440, 1080), seconds=20),
        Room(sigma=2.0, crf=26, fps=25, gop_s=4, size=(960, 720), seconds=24),
        Room(sigma=1.0, crf=28, codec="libx265", denoise=200, plate="TUD-Stadtmitte"),
    ]
    live = list(rooms)
    for room in live:  # each live condition again with a freeze in its middle
        span = (room.seconds * 0.3, room.seconds * 0.85)
        rooms.append(Room(**{**room.__dict__, "frozen": (round(span[0]), round(span[1]))}))
    rooms += [
        Room(sigma=1.0, crf=23, frozen=(8, 26), freeze="requant"),
        Room(sigma=1.0, crf=23, frozen=(8, 26), freeze="clock"),
        Room(sigma=3.0, bitrate_kbps=300, frozen=(8, 26)),
        Room(sigma=2.0, crf=23, frozen=(8, 26), preset="ultrafast", size=(320, 240)),
    ]
    if quick:
        rooms = rooms[::4]
    return rooms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="every fourth condition")
    args = parser.parse_args()
    if not (REAL / "TUD-Campus.mp4").is_file():
        raise SystemExit(f"real clips not found at {REAL}")
    rows = []
    print(
        "| condition | injected (s) | found (s) | frozen found/expected | false frozen s | | time |"
    )
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for room in matrix(args.quick):
            t0 = time.perf_counter()
            score = scan_room(room, Path(tmp))
            rows.append(score)
            found = ", ".join(f"{a:.0f}-{b:.0f}" for a, b in score.frozen) or "-"
            want = "-" if room.frozen is None else f"{room.frozen[0]:.0f}-{room.frozen[1]:.0f}"
            verdict = "ok" if score.ok else "FAIL"
            took = time.perf_counter() - t0
            print(
                f"| {room.label():72s} | {want:7s} | {found:12s} | {score.found}/{score.expected} "
                f"| {score.false_s:5.1f} | {verdict} | {took:4.1f}s |",
                flush=True,
            )
    live = [r for r in rows if r.expected == 0]
    frozen = [r for r in rows if r.expected]
    print(
        f"live: {sum(r.false_s == 0 for r in live)}/{len(live)} with no false frozen second; "
        f"frozen: {sum(r.found == 1 for r in frozen)}/{len(frozen)} found within +-2 s"
    )


if __name__ == "__main__":
    main()
