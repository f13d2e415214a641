"""``examaudit crosscheck`` (issue 15 part 3): footage re-used across evidence folders.

Three folders hold the fingerprints of one session each, built from the real clips
(benchmarks/reuse_media.py): A the original, B a re-encoded 28 s copy of it filed a week
later, C the same room with other people. Exactly the pair A -> B is reported, at the right
times; nothing between the others.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from benchmarks.reuse_media import T0, Case, Export, analyse, build
from pipeline import schemas
from pipeline.cli import main


@pytest.fixture(scope="module")
def folders(tmp_path_factory, real_data: Path) -> list[Path]:
    work = tmp_path_factory.mktemp("cross")
    copy = build(Case("issue", Export(scale=0.71, brightness=1.06, crf=33)), real_data, work)
    other = build(Case("other", negative="other_people"), real_data, work)
    out = []
    for name, files in (("A", copy[:1]), ("B", copy[1:]), ("C", other[1:])):
        _, _, timeline = analyse(files)
        folder = work / name
        folder.mkdir()
        pq.write_table(timeline.cast(schemas.TIMELINE), folder / "timeline.parquet")
        fps = timeline.cast(schemas.TIMELINE).select(schemas.FINGERPRINTS.names)
        pq.write_table(fps, folder / "fingerprints.parquet")
        out.append(folder)
    return out


def test_crosscheck_reports_exactly_the_copied_pair(folders, tmp_path):
    assert main(["crosscheck", *map(str, folders), "--out", str(tmp_path)]) == 0
    table = pq.read_table(tmp_path / "crosscheck.parquet")
    assert table.schema.equals(schemas.CROSSCHECK)
    rows = table.to_pylist()
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["a_evidence"], row["b_evidence"]) == (str(folders[0]), str(folders[1]))
    assert (row["a_session_id"], row["b_session_id"]) == ("S1", "S2")
    later = T0 + timedelta(days=7)
    assert abs((row["b_start"] - later).total_seconds()) <= 2
    assert abs((row["a_start"] - T0).total_seconds() - 6.0) <= 2
    assert row["duration_s"] >= 24


def test_crosscheck_rejects_a_folder_without_evidence(tmp_path):
    assert main(["crosscheck", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
