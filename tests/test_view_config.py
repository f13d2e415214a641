"""Pinned usual views: site.toml ``reference_image`` and ``scan --reference`` name what is wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from clipgen import SCHEDULE_HEADER, write_clip

from pipeline.errors import InputError
from pipeline.findings.usual_view import carried_views, image_view
from pipeline.inputs.config import load_site

ROW = "S1,C1,R1,cam01,theory,safety,2022-03-15T08:30:00+08:00,2022-03-15T08:30:04+08:00,30,1\n"


def site_with(tmp_path: Path, value: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(f'[cameras.cam01]\nreference_image = "{value}"\n', encoding="utf-8")
    return path


def test_reference_image_relative_to_site_toml(tmp_path: Path) -> None:
    (tmp_path / "refs").mkdir()
    image = tmp_path / "refs" / "cam01.png"
    rng = np.random.default_rng(0)
    cv2.imwrite(str(image), rng.integers(0, 255, (180, 320, 3), dtype=np.uint8))
    site = load_site(site_with(tmp_path, "refs/cam01.png"))
    assert site.camera("cam01").reference_image == image.resolve()
    view = image_view(image, 320)
    assert view.source == "reference_image" and view.picture == str(image)


@pytest.mark.parametrize("what", ["missing", "not an image", "not a string"])
def test_bad_reference_image_names_the_key(tmp_path: Path, what: str) -> None:
    if what == "not an image":
        (tmp_path / "cam01.jpg").write_text("hello", encoding="utf-8")
    value = {"missing": "nope.jpg", "not an image": "cam01.jpg"}.get(what)
    if value is None:
        path = tmp_path / "site.toml"
        path.write_text("[cameras.cam01]\nreference_image = 3\n", encoding="utf-8")
    else:
        path = site_with(tmp_path, value)
    with pytest.raises(InputError) as err:
        load_site(path)
    assert err.value.where == "cameras.cam01.reference_image"
    assert str(path) in str(err.value)


def test_reference_folder_without_views(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        carried_views(tmp_path)
    assert "views.parquet" in str(err.value)


def test_scan_reference_without_views_exits_2(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    rec.mkdir()
    write_clip(rec / "cam01_20220315T083000.mp4", 4.0)
    (rec / "schedule.csv").write_text(SCHEDULE_HEADER + ROW, encoding="utf-8")
    (rec / "site.toml").write_text('timezone = "Asia/Shanghai"\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "scan", str(rec), "--out", str(tmp_path / "ev"),
         "--reference", str(tmp_path / "nowhere")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "views.parquet" in done.stderr and "nowhere" in done.stderr
