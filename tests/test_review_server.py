"""The review app: verdicts stored and shown, files served safely, text escaped."""

from __future__ import annotations

import socket
import threading
import time
import warnings
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import uvicorn
from fixture import HOSTILE, build_demo_evidence, write_events

from pipeline.review.clips import cut_event_media
from pipeline.review.reviews import append_review, chain_problems, load_reviews, review_states
from pipeline.review.server import create_app, safe_path
from pipeline.schemas import REVIEWS

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture(scope="module")
def evidence(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("review")
    d = build_demo_evidence(root)
    write_events(d.evidence, cut_event_media(d.events, d.probes, d.evidence, d.site))
    (root / "secret.txt").write_text("outside the evidence folder")
    (d.evidence / "clips" / "escape.mp4").symlink_to(root / "secret.txt")
    return d.evidence


@pytest.fixture()
def client(evidence):
    return TestClient(create_app(evidence))


def _ids(evidence: Path) -> dict[str, str]:
    t = pq.read_table(evidence / "events.parquet", columns=["event_id", "kind"]).to_pylist()
    return {r["kind"]: r["event_id"] for r in t}


def _raw_get(port: int, target: str) -> int:
    """Send a request line exactly as written (no client-side path normalisation)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
        )
        head = s.recv(4096).decode("latin-1")
    return int(head.split(" ", 2)[1])


@pytest.fixture(scope="module")
def live(evidence):
    """The app on uvicorn on a free loopback port (real HTTP, raw request targets)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(evidence), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(5)


@pytest.mark.parametrize(
    "target",
    [
        "/files/../sessions.parquet",
        "/files/../../etc/passwd",
        "/files/clips/../../secret.txt",
        "/files/%2e%2e/secret.txt",
        "/files/%2E%2E%2Fsecret.txt",
        "/files/clips%2F..%2F..%2Fsecret.txt",
        "/files//etc/passwd",
        "/files/%2Fetc%2Fpasswd",
        "/files/.reviews.parquet.1.tmp",
        "/files/clips/escape.mp4",  # symlink pointing outside EVIDENCE
        "/files/..%5Csecret.txt",
    ],
)
def test_traversal_is_refused(live, target):
    status = _raw_get(live, target)
    assert status == 403, (target, status)


def test_files_inside_are_served_with_ranges(client, evidence):
    clip = next((evidence / "clips").glob("proctor_absent-*.mp4"))
    r = client.get(f"/files/clips/{clip.name}", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and len(r.content) == 100
    assert r.content == clip.read_bytes()[:100]
    assert r.headers["content-range"] == f"bytes 0-99/{clip.stat().st_size}"


def test_safe_path_rules(evidence):
    assert safe_path(evidence, "sessions.parquet") == (evidence / "sessions.parquet").resolve()
    for bad in ("../x", "/etc/passwd", "clips/../../x", "a\\..\\b", "", ".hidden"):
        with pytest.raises(ValueError):
            safe_path(evidence, bad)
    with pytest.raises(ValueError):
        safe_path(evidence, "clips/escape.mp4")


def test_confirm_dismiss_note_survive_reload(client, evidence):
    ids = _ids(evidence)
    r = client.post(
        "/api/reviews",
        json={"event_id": ids["proctor_absent"], "verdict": "confirmed", "reviewer": "王老师"},
    )
    assert r.status_code == 201
    note = "<script>alert('pwned')</script> 监考员离开"
    r = client.post(
        "/api/reviews",
        json={
            "event_id": ids["black_screen"],
            "verdict": "dismissed",
            "note": note,
            "reviewer": "李",
        },
    )
    assert r.status_code == 201
    page = client.get("/report/").text
    assert "<script>alert('pwned')" not in page
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; 监考员离开" in page
    assert 'data-review="confirmed"' in page and 'data-review="dismissed"' in page
    assert "王老师" in page
    # the hostile source file name is text, too
    assert HOSTILE not in page and "cam02_&lt;script&gt;alert(1)&lt;img" in page
    states = review_states(load_reviews(evidence))
    assert states[ids["proctor_absent"]].verdict == "confirmed"
    assert states[ids["black_screen"]].verdict == "dismissed"
    assert states[ids["black_screen"]].notes[0][0] == note


def test_bad_review_requests_are_refused(client, evidence):
    ids = _ids(evidence)
    before = load_reviews(evidence).num_rows
    assert (
        client.post("/api/reviews", json={"event_id": "nope", "verdict": "confirmed"}).status_code
        == 404
    )
    assert (
        client.post(
            "/api/reviews",
            json={
                "event_id": ids["clock_jump"] if "clock_jump" in ids else ids["black_screen"],
                "verdict": "maybe",
            },
        ).status_code
        == 400
    )
    # a plain form post from another web page (no preflight) is refused
    assert (
        client.post(
            "/api/reviews",
            content=b'{"event_id":"x","verdict":"confirmed"}',
            headers={"content-type": "text/plain"},
        ).status_code
        == 415
    )
    r = client.post(
        "/api/reviews",
        json={"event_id": ids["black_screen"], "verdict": "confirmed", "reviewer": "x"},
        headers={"origin": "http://evil.example"},
    )
    assert r.status_code == 403
    # every verdict says who gave it
    r = client.post("/api/reviews", json={"event_id": ids["black_screen"], "verdict": "confirmed"})
    assert r.status_code == 400 and "reviewer" in r.json()["error"]
    assert load_reviews(evidence).num_rows == before


def test_concurrent_writers_lose_nothing(tmp_path):
    n, threads = 25, 4
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(n):
                append_review(tmp_path, f"ev-{k}", "note", f"note {k}-{i}", f"r{k}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors
    table = load_reviews(tmp_path)
    assert table.schema.equals(REVIEWS)
    notes = sorted(table.column("note").to_pylist())
    assert notes == sorted(f"note {k}-{i}" for k in range(threads) for i in range(n))
    assert chain_problems(table.to_pylist()) == []  # one unbroken chain, seq 0..n-1
    assert table.column("seq").to_pylist() == list(range(n * threads))
    assert not list(tmp_path.glob(".reviews.parquet*.tmp"))


def test_earlier_verdicts_are_kept(tmp_path):
    append_review(tmp_path, "e1", "confirmed", reviewer="a")
    append_review(tmp_path, "e1", "dismissed", "false alarm", reviewer="b")
    table = load_reviews(tmp_path)
    assert table.column("verdict").to_pylist() == ["confirmed", "dismissed"]
    assert review_states(table)["e1"].verdict == "dismissed"
    with pytest.raises(ValueError):
        append_review(tmp_path, "e1", "note", "  ")
