"""The seal (issue 10): legitimate work keeps `archive-check` green, forgery turns it red and
names what changed; the scan's own report reads in the site's local time; the review app
beyond loopback wants its token."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipeline import seal, signing
from pipeline.review.reviews import GENESIS, append_review, chain_problems, row_digest
from pipeline.review.server import create_app
from pipeline.schemas import REVIEWS

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

CLI = [sys.executable, "-m", "pipeline"]


def cli(*args: object, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env
    )


def check(evidence: Path, *extra: object) -> subprocess.CompletedProcess:
    return cli("archive-check", evidence, *extra)


# --- legitimate work on the full sample scan ---------------------------------------------


def test_scan_report_en_zh_and_a_verdict_keep_the_archive_green(sample_scan, tmp_path):
    done, scanned = sample_scan
    assert done.returncode in (0, 1), done.stderr[-2000:]
    evidence = tmp_path / "evidence"
    shutil.copytree(scanned, evidence)
    steps = {"scan": check(evidence)}
    assert cli("report", evidence, "--lang", "en").returncode == 0
    steps["report --lang en"] = check(evidence)
    assert cli("report", evidence, "--lang", "zh").returncode == 0
    steps["report --lang zh"] = check(evidence)
    event = pq.read_table(evidence / "events.parquet").column("event_id")[0].as_py()
    r = TestClient(create_app(evidence)).post(
        "/api/reviews", json={"event_id": event, "verdict": "confirmed", "reviewer": "王老师"}
    )
    assert r.status_code == 201
    steps["a verdict via the review app"] = check(evidence)
    for step, result in steps.items():
        assert result.returncode == 0, f"after {step}: {result.stdout}{result.stderr}"
        assert "seal unsigned" in result.stdout
    manifest = seal.read_manifest(evidence)
    view = manifest["derived"]["report/index.html"]
    assert view["from_primary"] == manifest["seal"]["primary"] == seal.primary_digest(manifest)
    assert "report/index.html" not in manifest["files"]
    assert any(rel.startswith("clips/") for rel in manifest["files"])
    assert manifest["reviews"]["rows"] == 1


def test_the_scans_own_report_shows_local_time(sample_scan, sample_centre):
    """The report `scan` writes (not a regenerated one) is in the site's zone, named."""
    done, evidence = sample_scan
    assert done.returncode in (0, 1), done.stderr[-2000:]
    html = (evidence / "report" / "index.html").read_text(encoding="utf-8")
    assert 'data-en="Time zone">' in html and "Asia/Shanghai (UTC+08:00)" in html
    schedule = (sample_centre / "schedule.csv").read_text(encoding="utf-8").splitlines()
    first = dict(zip(schedule[0].split(","), schedule[1].split(","), strict=False))
    local = first["scheduled_start"].replace("T", " ")[:19]  # 2022-03-15 08:00:00 (+08:00)
    row = re.search(
        rf'<tr class="srow"[^>]*data-session="{first["session_id"]}".*?</tr>', html, re.S
    )
    assert row, "session row not found"
    assert local in row.group(0)
    utc = pq.read_table(evidence / "sessions.parquet").to_pylist()
    start = next(s["scheduled_start"] for s in utc if s["session_id"] == first["session_id"])
    assert start.strftime("%Y-%m-%d %H:%M:%S") not in row.group(0)  # not the UTC wall time


# --- forgery on a signed seal ----------------------------------------------------------


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("keys")
    done = cli("keygen", folder)
    assert done.returncode == 0, done.stderr
    return folder / signing.PRIVATE_NAME, folder / signing.PUBLIC_NAME


@pytest.fixture(scope="module")
def signed(sample_centre, keys, tmp_path_factory) -> Path:
    """A quick signed scan (coverage only) with four verdicts appended through the review app
    holding the key."""
    out = tmp_path_factory.mktemp("signed") / "evidence"
    done = cli(
        "scan", sample_centre, "--out", out, "--checks", "coverage", "--no-clips",
        "--workers", "1", "--sign-key", keys[0],
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-2000:]
    ids = pq.read_table(out / "events.parquet").column("event_id").to_pylist()
    assert len(ids) >= 4
    client = TestClient(create_app(out, sign_key=signing.load_private_key(keys[0])))
    for i, (verdict, note) in enumerate(
        [("confirmed", ""), ("dismissed", "摄像头正常"), ("note", "待复查"), ("confirmed", "")]
    ):
        body = {"event_id": ids[i], "verdict": verdict, "note": note, "reviewer": f"r{i}"}
        assert client.post("/api/reviews", json=body).status_code == 201
    return out


@pytest.fixture()
def copy(signed, tmp_path) -> Path:
    target = tmp_path / "evidence"
    shutil.copytree(signed, target)
    return target


def _rows(evidence: Path) -> list[dict]:
    return pq.read_table(evidence / "reviews.parquet").to_pylist()


def _write_rows(evidence: Path, rows: list[dict]) -> None:
    pq.write_table(pa.Table.from_pylist(rows, schema=REVIEWS), evidence / "reviews.parquet")


def _fails(evidence: Path, public: Path, *expected: str) -> str:
    result = check(evidence, "--public-key", public)
    assert result.returncode == 1, result.stdout + result.stderr
    for text in expected:
        assert text in result.stdout, f"{text!r} not in:\n{result.stdout}"
    return result.stdout


def test_signed_scan_and_signed_verdicts_verify(signed, keys):
    result = check(signed, "--public-key", keys[1])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verified" in result.stdout
    manifest = seal.read_manifest(signed)
    assert manifest["signature"]["signed"]["reviews"]["rows"] == 4
    assert manifest["derived"]["report/index.html"]["from_primary"] == manifest["seal"]["primary"]


def test_an_edited_note_is_named_by_row(copy, keys):
    rows = _rows(copy)
    rows[1]["note"] = "摄像头被遮挡"  # the verdict's reason rewritten
    _write_rows(copy, rows)
    out = _fails(copy, keys[1], "row 2", "edited")
    assert check(copy).returncode == 1  # the chain alone catches it, key or not
    assert "row 1" not in out and "row 3" not in out


def test_a_deleted_verdict_is_named(copy, keys):
    rows = _rows(copy)
    gone = rows.pop(1)
    _write_rows(copy, rows)
    out = _fails(copy, keys[1], "deleted", "seq 1 (after seq 0)")
    assert gone["event_id"] not in out


def test_the_newest_verdict_deleted_is_caught_by_the_seal(copy, keys):
    _write_rows(copy, _rows(copy)[:-1])
    _fails(copy, keys[1], "deleted", "1 of 4 sealed verdict rows")


def test_two_swapped_verdicts_are_named(copy, keys):
    rows = _rows(copy)
    rows[0], rows[2] = rows[2], rows[0]
    _write_rows(copy, rows)
    out = _fails(copy, keys[1], "reordered", "row 1", "row 3")
    assert "row 2 " not in out and "row 4" not in out


def test_a_rehashed_chain_is_caught_by_the_signature(copy, keys):
    """The forger rewrites a verdict and recomputes every row hash and the manifest's log
    head: the chain and the unsigned check agree, the signed log does not."""
    rows = _rows(copy)
    rows[0]["verdict"] = "dismissed"
    prev = GENESIS
    for r in rows:
        r["prev_hash"] = prev
        r["row_hash"] = prev = row_digest(r)
    _write_rows(copy, rows)
    manifest = seal.read_manifest(copy)
    manifest["reviews"]["head"] = prev
    manifest["seal"]["head"] = seal.digest(seal.payload(manifest))
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert check(copy).returncode == 0  # a list of hashes alone is fooled
    _fails(copy, keys[1], "reviews.parquet", "differ from the signed log")


def test_an_edited_event_with_a_recomputed_manifest_is_named(copy, keys):
    table = pq.read_table(copy / "events.parquet")
    details = table.column("details").to_pylist()
    details[0] = json.dumps({"note": "nothing happened"})
    table = table.set_column(
        table.schema.get_field_index("details"), "details", pa.array(details, pa.string())
    )
    pq.write_table(table, copy / "events.parquet")
    # recompute manifest.json by hand, as a forger would: file hash, primary hash, head
    manifest = seal.read_manifest(copy)
    sha = hashlib.sha256((copy / "events.parquet").read_bytes()).hexdigest()
    manifest["files"]["events.parquet"] = sha
    manifest["seal"]["primary"] = seal.primary_digest(manifest)
    manifest["seal"]["head"] = seal.digest(seal.payload(manifest))
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert check(copy).returncode == 0  # without the key the forgery passes...
    out = _fails(copy, keys[1], "events.parquet", "differs from the signed manifest")
    assert "sessions.parquet" not in out  # ...with it, exactly the edited table is named


def test_a_manifest_resigned_with_another_key_or_unsigned_fails(copy, keys, tmp_path):
    manifest = seal.read_manifest(copy)
    del manifest["signature"]
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert "seal unsigned" in check(copy).stdout
    _fails(copy, keys[1], "unsigned")
    assert cli("keygen", tmp_path / "mallory").returncode == 0
    other = tmp_path / "mallory" / signing.PRIVATE_NAME
    assert cli("report", copy, "--sign-key", other).returncode == 0
    _fails(copy, keys[1], "bad_signature")
    assert check(copy, "--public-key", tmp_path / "mallory" / signing.PUBLIC_NAME).returncode == 0


def test_views_and_verdicts_after_signing_need_the_key(copy, keys):
    result = cli("report", copy, "--lang", "en")  # no key: the seal is renewed, not signed
    assert result.returncode == 0 and "--sign-key" in result.stderr
    assert check(copy).returncode == 0
    _fails(copy, keys[1], "report/index.html", "unsigned")
    assert cli("report", copy, "--lang", "en", "--sign-key", keys[0]).returncode == 0
    assert check(copy, "--public-key", keys[1]).returncode == 0
    event = _rows(copy)[0]["event_id"]
    append_review(copy, event, "note", "after the signature", "r9")
    _fails(copy, keys[1], "1 rows after the signature")


def test_a_hand_edited_report_is_flagged(copy, keys):
    report = copy / "report" / "index.html"
    report.write_text(report.read_text(encoding="utf-8").replace("S01", "S99"), encoding="utf-8")
    result = check(copy)
    assert result.returncode == 1 and "report/index.html" in result.stdout
    assert "edited after it was made" in result.stdout


def test_appending_to_a_broken_log_is_refused(copy):
    rows = _rows(copy)
    _write_rows(copy, rows[:-1])  # the newest verdict deleted
    before = (copy / "reviews.parquet").read_bytes()
    client = TestClient(create_app(copy))
    body = {"event_id": rows[0]["event_id"], "verdict": "confirmed", "reviewer": "x"}
    r = client.post("/api/reviews", json=body)
    assert r.status_code == 409 and "does not match its seal" in r.json()["error"]
    assert (copy / "reviews.parquet").read_bytes() == before


def test_a_problem_list_saved_in_the_folder_is_a_sealed_derived_view(copy, keys):
    done = cli("export", copy, "--xlsx", copy / "problems.xlsx", "--sign-key", keys[0])
    assert done.returncode == 0, done.stderr
    assert "sealed as a derived view" in done.stdout
    result = check(copy, "--public-key", keys[1])
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = seal.read_manifest(copy)
    assert manifest["derived"]["problems.xlsx"]["from_primary"] == manifest["seal"]["primary"]
    (copy / "problems.xlsx").write_bytes(b"PK forged")  # the list edited afterwards
    assert "problems.xlsx" in _fails(copy, keys[1])


def test_a_rescan_does_not_launder_a_changed_verdict_log(copy, keys, sample_centre):
    rows = _rows(copy)
    rows[0]["note"] = "rewritten"
    _write_rows(copy, rows)
    done = cli(
        "scan", sample_centre, "--out", copy, "--checks", "coverage", "--no-clips",
        "--workers", "1", "--sign-key", keys[0],
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert "does not match its seal" in done.stderr
    _fails(copy, keys[1], "row 1", "edited")


# --- the chain as a pure function ------------------------------------------------------


def _chain(n: int) -> list[dict]:
    from datetime import UTC, datetime, timedelta

    rows, prev = [], GENESIS
    t0 = datetime(2026, 1, 5, 1, 2, 3, 456000, tzinfo=UTC)
    for i in range(n):
        r = {
            "event_id": f"e{i}",
            "verdict": "confirmed",
            "note": None,
            "reviewer": "a",
            "reviewed_at": t0 + timedelta(seconds=i),
            "seq": i,
            "prev_hash": prev,
        }
        r["row_hash"] = prev = row_digest(r)
        rows.append(r)
    return rows


def test_chain_names_each_kind_of_change():
    rows = _chain(6)
    assert chain_problems(rows) == []
    edited = [dict(r) for r in rows]
    edited[3]["reviewer"] = "b"
    assert [(p.position, p.status) for p in chain_problems(edited)] == [(4, "edited")]
    deleted = rows[:2] + rows[3:]
    assert [(p.seq, p.status) for p in chain_problems(deleted)] == [(2, "deleted")]
    first_gone = rows[1:]
    assert [p.status for p in chain_problems(first_gone)] == ["deleted"]
    swapped = [rows[0], rows[4], rows[2], rows[3], rows[1], rows[5]]
    got = sorted((p.position, p.status) for p in chain_problems(swapped))
    assert got == [(2, "reordered"), (5, "reordered")]
    rehashed = [dict(r) for r in rows]
    rehashed[2]["note"] = "x"
    rehashed[2]["row_hash"] = row_digest(rehashed[2])
    assert [(p.seq, p.status) for p in chain_problems(rehashed)] == [(3, "relinked")]
    assert [p.status for p in chain_problems([*rows, dict(rows[2])])] == ["duplicated"]


# --- keys --------------------------------------------------------------------------------


def test_keygen_mode_no_overwrite_and_never_in_evidence(signed, tmp_path, keys):
    assert keys[0].stat().st_mode & 0o777 == 0o600
    again = cli("keygen", keys[0].parent)
    assert again.returncode == 2 and "already exists" in again.stderr
    inside = cli("keygen", signed / "keys")
    assert inside.returncode == 2 and "inside the evidence folder" in inside.stderr
    assert not (signed / "keys").exists()
    planted = tmp_path / "evidence-with-key"
    shutil.copytree(signed, planted)
    shutil.copy(keys[0], planted / "key")
    result = cli("report", planted, "--sign-key", planted / "key")
    assert result.returncode == 2 and "inside the evidence folder" in result.stderr


def test_no_report_is_honoured(sample_centre, tmp_path):
    out = tmp_path / "ev"
    done = cli(
        "scan", sample_centre, "--out", out, "--checks", "coverage", "--no-clips", "--no-report",
        "--workers", "1",
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert (out / "events.parquet").is_file() and not (out / "report").exists()
    assert check(out).returncode == 0


# --- the review app beyond loopback ----------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_review_beyond_loopback_needs_the_printed_token(copy):
    import httpx

    port = _free_port()
    proc = subprocess.Popen(
        [*CLI, "review", str(copy), "--host", "0.0.0.0", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        while len(lines) < 5 and not (m := re.search(r"\?token=([\w-]+)", "".join(lines))):
            lines.append(proc.stdout.readline())  # a warning about signing may come first
        assert m, lines
        token = m.group(1)
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(base + "/favicon.ico", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        before = (copy / "reviews.parquet").read_bytes()
        event = _rows(copy)[0]["event_id"]
        body = {"event_id": event, "verdict": "dismissed", "reviewer": "mallory"}
        r = httpx.post(base + "/api/reviews", json=body)
        assert r.status_code == 403
        wrong = httpx.post(base + "/api/reviews", json=body, cookies={"examaudit_token": "x"})
        assert wrong.status_code == 403
        assert httpx.get(base + "/report/").status_code == 403
        assert httpx.get(base + "/files/events.parquet").status_code == 403
        assert (copy / "reviews.parquet").read_bytes() == before  # nothing written
        with httpx.Client(base_url=base) as browser:
            first = browser.get(f"/report/?token={token}")
            assert first.status_code == 303 and first.headers["location"] == "/report/"
            cookie = first.headers["set-cookie"].lower()
            assert "httponly" in cookie and "samesite=strict" in cookie
            assert browser.get("/report/").status_code == 200  # the cookie does from now on
            r = browser.post("/api/reviews", json={**body, "reviewer": "王老师"})
            assert r.status_code == 201, r.text
        assert pc.sum(pc.equal(pq.read_table(copy / "reviews.parquet")["reviewer"], "王老师"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
