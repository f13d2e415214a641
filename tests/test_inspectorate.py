"""The inspectorate's outputs on a real scan of the samples: the problem list (XLSX/CSV) per
checklist item, and the roll-up across several evidence folders."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipeline.inspectorate.checklist import ITEMS, item_of
from pipeline.review.reviews import append_review

CLI = [sys.executable, "-m", "pipeline"]
TZ = ZoneInfo("Asia/Shanghai")  # the samples' site.toml


@pytest.fixture(scope="module")
def evidence(sample_scan, tmp_path_factory) -> Path:
    done, out = sample_scan
    assert done.returncode == 0, done.stderr
    copy = tmp_path_factory.mktemp("inspectorate") / "evidence"
    shutil.copytree(out, copy)
    return copy


def _events(folder: Path) -> list[dict]:
    return pq.read_table(folder / "events.parquet").to_pylist()


def _run(*args: object) -> subprocess.CompletedProcess:
    done = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def test_xlsx_problem_list_matches_events(evidence: Path, tmp_path: Path) -> None:
    events = _events(evidence)
    assert events, "the samples have findings"
    first = events[0]["event_id"]
    append_review(evidence, first, "dismissed", note="camera test", reviewer="王")
    out = tmp_path / "out" / "问题清单.xlsx"
    _run("export", evidence, "--xlsx", out)

    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["汇总", "问题清单"]
    ws = wb["问题清单"]
    headers = [c.value for c in ws[1]]
    for name in (
        "检查项",
        "考点",
        "考场",
        "场次",
        "问题",
        "复核结论",
        "复核备注",
        "视频片段",
        "截图",
        "整改措施",
        "整改时限",
        "责任人",
        "问题编号",
    ):
        assert name in headers
    assert "开始时间 (Asia/Shanghai)" in headers
    assert ws.freeze_panes == "A2"
    col = {h: i for i, h in enumerate(headers)}

    by_id = {e["event_id"]: e for e in events}
    current_item = None
    seen: list[str] = []
    for row in ws.iter_rows(min_row=2):
        values = [c.value for c in row]
        event_id = values[col["问题编号"]]
        if event_id is None:  # a checklist item's header row
            current_item = next(i for i in ITEMS if str(values[0]).startswith(i.code))
            continue
        e = by_id[event_id]
        item = item_of(e["kind"], e["details"])
        assert values[col["检查项"]] == item.code == current_item.code
        start = row[col["开始时间 (Asia/Shanghai)"]]
        assert start.is_date
        assert start.value == e["start"].astimezone(TZ).replace(tzinfo=None)
        assert values[col["时长（秒）"]] == pytest.approx(e["duration_s"])
        clip = row[col["视频片段"]]
        if e["clip"]:
            target = (out.parent / clip.hyperlink.target).resolve()
            assert target == (evidence / e["clip"]).resolve() and target.is_file()
        else:
            assert clip.value is None
        if event_id == first:
            assert values[col["复核结论"]] == "已排除"
            assert values[col["复核备注"]] == "camera test"
            assert values[col["复核人"]] == "王"
        else:
            assert values[col["复核结论"]] == "未复核"
        assert values[col["整改措施"]] is None and values[col["责任人"]] is None
        seen.append(event_id)
    assert sorted(seen) == sorted(by_id), "exactly one row per finding"

    summary = wb["汇总"]
    expected = Counter(item_of(e["kind"], e["details"]).code for e in events)
    counts = {
        r[0]: r[2]
        for r in summary.iter_rows(min_row=2, values_only=True)
        if r[0] in {i.code for i in ITEMS}
    }
    assert counts == {i.code: expected.get(i.code, 0) for i in ITEMS}
    # the samples' own faults land under the right items
    assert expected["二(二)4"] >= 1 and expected["二(二)5"] >= 1 and expected["二(二)6"] >= 5
    assert expected["二(二)3"] >= 3  # missing recording, late start, early stop


def test_csv_and_english(evidence: Path, tmp_path: Path) -> None:
    out = tmp_path / "problems.csv"
    xlsx = tmp_path / "problems-en.xlsx"
    _run("export", evidence, "--csv", out, "--xlsx", xlsx, "--lang", "en")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "BOM, so Excel reads UTF-8"
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    events = _events(evidence)
    assert sorted(r["Finding ID"] for r in rows) == sorted(e["event_id"] for e in events)
    assert {r["Checklist item"] for r in rows} <= {i.code for i in ITEMS}
    wb = openpyxl.load_workbook(xlsx)
    assert wb.sheetnames == ["Summary", "Problem list"]
    assert "Corrective measures" in [c.value for c in wb["Problem list"][1]]


def test_export_refuses_a_folder_that_is_not_evidence(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "export", tmp_path, "--xlsx", tmp_path / "x.xlsx"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert str(tmp_path) in done.stderr and "not an evidence folder" in done.stderr


def _rewrite(folder: Path, name: str, fn) -> None:
    path = folder / f"{name}.parquet"
    pq.write_table(fn(pq.read_table(path)), path)


def _shift(table: pa.Table, columns: tuple[str, ...], days: int) -> pa.Table:
    for c in columns:
        shifted = pc.add(table[c], pa.scalar(timedelta(days=days), pa.duration("ms")))
        table = table.set_column(table.schema.get_field_index(c), c, shifted.cast(table[c].type))
    return table


def test_summary_totals_equal_the_folders(sample_scan, tmp_path: Path) -> None:
    """Three centres' folders (one a month later): the roll-up adds up to their tables."""
    done, pristine = sample_scan
    assert done.returncode == 0, done.stderr
    assert not (pristine / "reviews.parquet").exists(), "the shared scan must stay unreviewed"
    folders = []
    for n, (centre, days) in enumerate((("C01", 0), ("C02", 0), ("C03", 31))):
        f = tmp_path / f"centre{n}"
        shutil.copytree(pristine, f)
        _rewrite(
            f,
            "sessions",
            lambda t, c=centre: t.set_column(
                t.schema.get_field_index("centre_id"), "centre_id", pa.array([c] * t.num_rows)
            ),
        )
        _rewrite(
            f, "sessions", lambda t, d=days: _shift(t, ("scheduled_start", "scheduled_end"), d)
        )
        _rewrite(f, "events", lambda t, d=days: _shift(t, ("start", "end"), d))
        folders.append(f)
    events0 = _events(folders[0])
    append_review(folders[0], events0[0]["event_id"], "confirmed", reviewer="李")
    append_review(folders[0], events0[1]["event_id"], "note", note="see clip", reviewer="李")
    out = tmp_path / "rollup"
    _run("summary", *folders, "--out", out, "--xlsx", out / "summary.xlsx")

    months = pq.read_table(out / "summary_months.parquet").to_pylist()
    sessions = [pq.read_table(f / "sessions.parquet").to_pylist() for f in folders]
    events = [_events(f) for f in folders]
    assert sum(m["sessions"] for m in months) == sum(len(s) for s in sessions)
    assert sum(m["findings"] for m in months) == sum(len(e) for e in events)
    scheduled = sum(
        (r["scheduled_end"] - r["scheduled_start"]).total_seconds() for s in sessions for r in s
    )
    assert sum(m["scheduled_h"] for m in months) == pytest.approx(scheduled / 3600)
    recorded = sum(r["recorded_s"] for s in sessions for r in s)
    assert sum(m["recorded_h"] for m in months) == pytest.approx(recorded / 3600)
    assert sum(m["sessions_flagged"] for m in months) == sum(
        r["verdict"] == "flag" for s in sessions for r in s
    )
    assert {(m["centre_id"], m["month"]) for m in months} == {
        ("C01", "2022-03"),
        ("C02", "2022-03"),
        ("C03", "2022-04"),
    }
    # a note is not a verdict: one reviewed finding in C01
    assert {m["centre_id"]: m["reviewed"] for m in months} == {"C01": 1, "C02": 0, "C03": 0}

    items = pq.read_table(out / "summary_items.parquet").to_pylist()
    expected = Counter(item_of(e["kind"], e["details"]).code for ev in events for e in ev)
    got: Counter = Counter()
    for i in items:
        got[i["item"]] += i["findings"]
    assert +got == +expected
    c01 = [i for i in items if i["centre_id"] == "C01"]
    hours = scheduled / 3600 / 3
    for i in c01:
        assert i["findings_per_10h"] == pytest.approx(10 * i["findings"] / hours)

    worst = pq.read_table(out / "summary_worst.parquet").to_pylist()
    counts = [w["findings"] for w in worst]
    assert counts == sorted(counts, reverse=True) and counts[0] >= 1
    page = (out / "index.html").read_text(encoding="utf-8")
    assert all(c in page for c in ("C01", "C02", "C03", "2022-04"))
    assert "<script src" not in page and "http" not in page.split("<body>", 1)[1]
    wb = openpyxl.load_workbook(out / "summary.xlsx")
    assert wb.sheetnames == ["按考点月份", "按检查项", "问题最多场次"]
    assert wb["按考点月份"].max_row == 1 + len(months)
    json.dumps(months, default=str)  # plain values only


def test_summary_names_a_folder_that_is_not_evidence(evidence: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "summary", evidence, tmp_path / "nope", "--out", tmp_path / "o"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "nope" in done.stderr
