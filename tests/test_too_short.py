"""recording_too_short: the check added as one module (pipeline/checks/too_short.py) shows up
in the scan, in `examaudit checks` and, labelled, in the report."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_videos"


def _scan(tmp_path: Path, rules: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    centre = tmp_path / "centre"
    centre.mkdir()
    for name in ("cam01_20220315T080000.mp4", "cam01_20220315T081000.mp4"):  # 180 s, 80 s
        shutil.copy(SAMPLES / name, centre / name)
    lines = (SAMPLES / "schedule.csv").read_text(encoding="utf-8").splitlines()
    (centre / "schedule.csv").write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    (centre / "site.toml").write_text(
        f'timezone = "Asia/Shanghai"\n[rules]\nmin_height = 360\n{rules}\n', encoding="utf-8"
    )
    out = tmp_path / "ev"
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "scan", str(centre), "--out", str(out),
         "--workers", "1", "--checks", "coverage", "--no-clips"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done, out


def test_a_file_shorter_than_the_site_minimum_is_found_and_labelled(tmp_path: Path) -> None:
    done, out = _scan(tmp_path, "min_recording_s = 100")
    assert done.returncode == 0, done.stderr
    events = pq.read_table(out / "events.parquet").to_pylist()
    short = [e for e in events if e["kind"] == "recording_too_short"]
    assert [e["source_file"] for e in short] == ["cam01_20220315T081000.mp4"]
    assert short[0]["session_id"] is None and short[0]["camera_id"] == "cam01"
    assert abs(short[0]["duration_s"] - 80.0) < 0.5
    html = (out / "report" / "index.html").read_text(encoding="utf-8")
    assert "录像过短" in html and "Recording too short" in html


def test_off_by_default(tmp_path: Path) -> None:
    done, out = _scan(tmp_path, "")
    assert done.returncode == 0, done.stderr
    kinds = {e["kind"] for e in pq.read_table(out / "events.parquet").to_pylist()}
    assert "recording_too_short" not in kinds


def test_listed_by_examaudit_checks() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "checks"], capture_output=True, text=True, timeout=120
    )
    assert "recording_too_short (Recording too short)" in done.stdout
    assert "rules.min_recording_s = 0 s (a number from 0 to 86400 s)" in done.stdout
