"""``examaudit crosscheck`` (issue 15 part 3): footage re-used across evidence folders.

Two ways in. The real clips (benchmarks/reuse_media.py): three folders of fingerprints only,
A the original, B a re-encoded 28 s copy filed a week later, C the same room with other
people; no recordings to decode. And the issue's case end to end: two sample centres
(seeds 1 and 2) scanned separately with ``examaudit scan``, centre B's S08 recording being
centre A's S07 practical recording, copied under B's name and time slot; the copy is
confirmed frame by frame and placed to the second, and nothing else pairs up (the practical
sessions of both centres share the room, the script and its periodic movements, which the
fingerprints alone nominate and the frames reject).
"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from benchmarks.reuse_media import T0, Case, Export, analyse, build
from pipeline import schemas
from pipeline.cli import main
from pipeline.samples import generate
from pipeline.samples.dayplan import file_name, session, utc


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
    # fingerprints only (no manifest, no recordings): reported, not confirmed, and why
    details = json.loads(row["details"])
    assert details["verified"] is False
    assert "manifest.json" in details["reason"]
    assert (tmp_path / "crosscheck.html").is_file()


def test_crosscheck_rejects_a_folder_without_evidence(tmp_path):
    assert main(["crosscheck", str(tmp_path), "--out", str(tmp_path / "o")]) == 2


# --- the case: two sample centres, one recording copied from A into B -------------

ORIGINAL = session("S07")  # centre A's practical session, 08:00-08:03 local
SLOT = session("S08")  # the slot in centre B that the copy is filed under, 08:10-08:13


def _scan(recordings: Path, out: Path) -> Path:
    """``examaudit scan`` with the picture checks only (they write the fingerprints)."""
    args = ["scan", str(recordings), "--out", str(out), "--checks", "integrity"]
    assert main([*args, "--no-clips", "--no-report", "--workers", "2"]) == 0
    return out


@pytest.fixture(scope="module")
def centres(tmp_path_factory) -> dict[str, Path]:
    """Evidence of centre A (seed 1: S07, S08, S01), of centre B (seed 2: S07, S01) before
    the copy (B0), and of B after A's S07 recording was copied in as B's S08 (B)."""
    work = tmp_path_factory.mktemp("centres")
    a = generate(work / "A", 1, sessions=["S07", "S08", "S01"])
    b = generate(work / "B", 2, sessions=["S07", "S01"])
    schedule = b / "schedule.csv"  # another centre
    schedule.write_text(schedule.read_text().replace(",C01,", ",C02,"), encoding="utf-8")
    out = {"A_rec": a, "A": _scan(a, work / "EA"), "B0": _scan(b, work / "EB0")}
    shutil.copyfile(
        a / file_name("cam02", ORIGINAL.start_local()), b / file_name("cam02", SLOT.start_local())
    )
    out["B"] = _scan(b, work / "EB")
    return out


def _rows(out: Path) -> list[dict]:
    table = pq.read_table(out / "crosscheck.parquet")
    assert table.schema.equals(schemas.CROSSCHECK)
    return [{**r, "details": json.loads(r["details"])} for r in table.to_pylist()]


def _near(t, truth) -> bool:
    return abs((t - utc(truth)).total_seconds()) <= 2


@pytest.mark.slow
def test_copied_practical_recording_is_the_one_pair(centres, tmp_path):
    assert main(["crosscheck", str(centres["A"]), str(centres["B"]), "--out", str(tmp_path)]) == 0
    rows = _rows(tmp_path)
    assert len(rows) == 1, rows
    r = rows[0]
    assert (r["a_evidence"], r["a_session_id"], r["a_camera_id"]) == (
        str(centres["A"]),
        "S07",
        "cam02",
    )
    assert (r["b_evidence"], r["b_session_id"], r["b_camera_id"]) == (
        str(centres["B"]),
        "S08",
        "cam02",
    )
    length = timedelta(seconds=ORIGINAL.duration_s)
    a0, b0 = ORIGINAL.start_local(), SLOT.start_local()
    assert _near(r["a_start"], a0) and _near(r["a_end"], a0 + length), r
    assert _near(r["b_start"], b0) and _near(r["b_end"], b0 + length), r
    d = r["details"]
    assert d["verified"] is True and d["verified_frames"] >= 5, d
    assert r["confidence"] >= 0.9
    page = (tmp_path / "crosscheck.html").read_text(encoding="utf-8")
    for text in ("C01", "C02", "S07", "S08", "08:00:00", "08:10:00"):
        assert text in page
    assert page.count('src="data:image/jpeg;base64,') == 2  # both sides' thumbnails


@pytest.mark.slow
def test_two_centres_without_a_copy_pair_nothing(centres, tmp_path):
    assert main(["crosscheck", str(centres["A"]), str(centres["B0"]), "--out", str(tmp_path)]) == 0
    assert _rows(tmp_path) == []
    assert "No footage repeated" in (tmp_path / "crosscheck.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_missing_recording_is_reported_unverified_with_the_reason(centres, tmp_path):
    original = centres["A_rec"] / file_name("cam02", ORIGINAL.start_local())
    moved = original.with_suffix(".moved")
    original.rename(moved)
    try:
        code = main(["crosscheck", str(centres["A"]), str(centres["B"]), "--out", str(tmp_path)])
    finally:
        moved.rename(original)
    assert code == 0
    rows = _rows(tmp_path)
    # without A's recording nothing that involves it can be confirmed or rejected: each such
    # candidate stays, unverified, with the reason (the look-alike practical session of B
    # too, which the frames rejected above); candidates between reachable files are checked
    assert rows, rows
    for r in rows:
        assert r["details"]["a_file"] == original.name, r
        assert r["details"]["verified"] is False
        assert r["details"]["reason"] == f"{original}: recording not found"
        assert r["confidence"] < 0.9
    copied = [r for r in rows if r["b_session_id"] == "S08" and r["duration_s"] >= 170]
    assert len(copied) == 1, rows
    length = timedelta(seconds=ORIGINAL.duration_s)
    b0 = SLOT.start_local()
    assert _near(copied[0]["b_start"], b0) and _near(copied[0]["b_end"], b0 + length)


@pytest.mark.slow
def test_dask_job_on_two_workers_gives_the_same_pair(centres, tmp_path):
    args = ["crosscheck", str(centres["A"]), str(centres["B"])]
    assert main([*args, "--out", str(tmp_path / "threads")]) == 0
    assert main([*args, "--out", str(tmp_path / "dask"), "--workers", "2"]) == 0
    threads, dask = _rows(tmp_path / "threads"), _rows(tmp_path / "dask")
    assert len(dask) == 1 and dask == threads


@pytest.mark.slow
def test_the_same_recordings_in_two_folders_are_named_not_listed(centres, tmp_path, capsys):
    """A copied evidence folder (or a batch scanned twice) holds the very recordings of the
    first: no re-use between them, and none of A's own repeats either (A's scan reports its
    own); the command names the shared recordings. A's copy still pairs with B's copy of S07."""
    again = tmp_path / "EA-again"
    shutil.copytree(centres["A"], again)
    assert main(["crosscheck", str(centres["A"]), str(again), "--out", str(tmp_path / "o")]) == 0
    assert _rows(tmp_path / "o") == []
    note = capsys.readouterr().out
    shared = [p.name for p in sorted(centres["A_rec"].glob("*.mp4"))]
    assert "is the same" in note and str(again) in note
    assert any(name in note for name in shared), note
    page = (tmp_path / "o" / "crosscheck.html").read_text(encoding="utf-8")
    assert "is the same" in page
    args = [str(again), str(centres["B"]), "--out", str(tmp_path / "b")]
    assert main(["crosscheck", *args]) == 0
    rows = _rows(tmp_path / "b")
    assert [(r["a_session_id"], r["b_session_id"]) for r in rows] == [("S07", "S08")], rows


def _timeline(n: int = 3):
    """A few timeline rows with fingerprints (no video behind them)."""
    from datetime import UTC, datetime

    import pyarrow as pa

    rows = pa.table(
        {
            "session_id": ["S1"] * n,
            "camera_id": ["cam01"] * n,
            "t": [datetime(2026, 1, 5, 8, 0, 2 * i, tzinfo=UTC) for i in range(n)],
            "source_file": ["a.mp4"] * n,
            "t_file_s": [2.0 * i for i in range(n)],
            "fingerprint": [7 + i for i in range(n)],
            "motion_grid": [bytes([i]) * 64 for i in range(n)],
        }
    )
    return pa.table(
        {
            f.name: rows[f.name] if f.name in rows.column_names else pa.nulls(n, f.type)
            for f in schemas.TIMELINE
        }
    ).cast(schemas.TIMELINE)


def test_a_folder_scanned_before_fingerprints_files_reads_its_timeline(tmp_path):
    """Evidence from before fingerprints.parquet: its timeline's fingerprint columns stand in,
    typed as the fingerprints; a timeline without motion grids is refused, the folder named."""
    from pipeline.inspectorate.crosscheck_join import fingerprints

    timeline = _timeline()
    old = tmp_path / "old"
    old.mkdir()
    pq.write_table(timeline, old / "timeline.parquet")
    got = fingerprints(old)
    assert got.schema.equals(schemas.FINGERPRINTS)
    assert got.to_pylist() == timeline.select(schemas.FINGERPRINTS.names).to_pylist()

    older = tmp_path / "older"
    older.mkdir()
    pq.write_table(timeline.drop_columns(["motion_grid"]), older / "timeline.parquet")
    with pytest.raises(ValueError, match=r"older.*scan again"):
        fingerprints(older)


def test_a_folder_named_twice_is_read_once(tmp_path, capsys):
    folder = tmp_path / "E"
    folder.mkdir()
    pq.write_table(_timeline().select(schemas.FINGERPRINTS.names), folder / "fingerprints.parquet")
    link = tmp_path / "same-E"
    link.symlink_to(folder)
    args = ["crosscheck", str(folder), str(link), "--out", str(tmp_path / "o")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"{link}: given more than once; read once" in out
    assert "1 evidence folders, 0 repeated stretches" in out
