"""Shared fixtures. Areas add their own fixtures in their own test modules."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = ROOT.parent / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real clips with MOT ground truth; tests skip where the folder is absent."""
    if not (REAL_DATA / "TUD-Campus.mp4").is_file():
        pytest.skip(f"real footage not found at {REAL_DATA} (only on the development machines)")
    return REAL_DATA


@pytest.fixture(scope="session")
def sample_centre(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly generated sample exam centre (seed 0), generated once per test session."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("samples") / "centre"
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "samples", str(out), "--seed", "0"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="session")
def sample_scan(sample_centre: Path, tmp_path_factory: pytest.TempPathFactory):
    """`examaudit scan` of the fresh samples with every check and the default detector,
    run once per test session in a subprocess, as a user runs it."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("sample_evidence") / "evidence"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "scan",
            str(sample_centre),
            "--out",
            str(out),
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    return done, out
