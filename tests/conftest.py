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
