"""The review app and the static report in a real browser (Debian's Chromium via Playwright).

Chromium comes from scripts/install-browser.sh (``playwright install`` cannot download here).
Screenshots land in tests/artifacts/ for a human to look at.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("EXAMAUDIT_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).parent / "artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NOTE = "<script>window.__xss = 1</script> 误报：监考员在门口"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: run scripts/install-browser.sh")
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def evidence(tmp_path_factory) -> Path:
    from fixture import build_demo_evidence, write_events

    from pipeline.review.clips import cut_event_media
    from pipeline.review.report import write_report
    from pipeline.review.sheets import write_contact_sheets

    d = build_demo_evidence(tmp_path_factory.mktemp("browser"))
    write_events(d.evidence, cut_event_media(d.events, d.probes, d.evidence, d.site))
    write_contact_sheets(d.sessions, d.probes, d.evidence, d.site)
    write_report(d.evidence)
    return d.evidence


@contextlib.contextmanager
def _serve(evidence: Path):
    """The review app on uvicorn on a free loopback port, in a thread."""
    import uvicorn

    from pipeline.review.server import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(evidence), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


@pytest.fixture(scope="module")
def app_url(evidence):
    with _serve(evidence) as url:
        yield url


def _page(browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return page, errors


def _visible_rows(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(
        selector,
        "rows => rows.filter(r => !r.hidden && r.offsetHeight > 0)"
        ".map(r => r.dataset.kind || r.dataset.session)",
    )


def test_review_app_filter_play_confirm_dismiss_reload(browser, app_url, evidence):
    page, errors = _page(browser)
    page.goto(f"{app_url}/report/")
    assert page.text_content("h1").startswith("考场录像审计报告")
    page.screenshot(path=str(ARTIFACTS / "review_app.png"), full_page=True)

    # filter by kind
    all_kinds = _visible_rows(page, "#events-table tr.erow")
    assert len(all_kinds) == 5
    page.select_option("#f-kind", "proctor_absent")
    assert _visible_rows(page, "#events-table tr.erow") == ["proctor_absent"]
    assert page.text_content("#shown-events") == "1"
    assert _visible_rows(page, "#sessions-table tr.srow") == ["S01"]
    page.screenshot(path=str(ARTIFACTS / "review_filtered.png"), full_page=True)

    # play the clip of the visible event
    row = page.locator("#events-table tr.erow[data-kind=proctor_absent]")
    video = row.locator("video").first
    video.scroll_into_view_if_needed()
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function(
        "v => v.readyState >= 2 && v.currentTime > 0.3", arg=video.element_handle(), timeout=15_000
    )
    assert video.evaluate("v => v.error") is None
    assert video.evaluate("v => v.duration") > 5
    page.screenshot(path=str(ARTIFACTS / "review_playing.png"))
    page.click("#f-reset")

    # confirm one event, dismiss another with a note
    page.fill("#reviewer", "张考官")
    confirm_row = page.locator("#events-table tr.erow[data-kind=proctor_absent]")
    confirm_row.locator("button[data-verdict=confirmed]").click()
    page.wait_for_function(
        "() => document.querySelector('tr.erow[data-kind=proctor_absent]')"
        ".dataset.review === 'confirmed'"
    )
    dismiss_row = page.locator("#events-table tr.erow[data-kind=black_screen]")
    dismiss_row.locator("textarea[data-role=note]").fill(NOTE)
    dismiss_row.locator("button[data-verdict=dismissed]").click()
    page.wait_for_function(
        "() => document.querySelector('tr.erow[data-kind=black_screen]')"
        ".dataset.review === 'dismissed'"
    )

    page.reload()
    confirmed = page.locator("#events-table tr.erow[data-kind=proctor_absent]")
    dismissed = page.locator("#events-table tr.erow[data-kind=black_screen]")
    assert confirmed.get_attribute("data-review") == "confirmed"
    assert confirmed.locator("[data-role=review-badge]").text_content().strip() == "已确认"
    assert "张考官" in confirmed.locator("[data-role=review-by]").text_content()
    assert dismissed.get_attribute("data-review") == "dismissed"
    assert dismissed.locator("[data-role=review-badge]").text_content().strip() == "已排除"
    assert dismissed.locator(".note-text").first.text_content() == NOTE  # shown as text
    assert page.evaluate("() => window.__xss") is None
    assert page.text_content("#reviewed-count") == "2"
    page.select_option("#f-review", "dismissed")
    assert _visible_rows(page, "#events-table tr.erow") == ["black_screen"]
    page.click("#f-reset")

    # English switch
    page.click("#lang-switch")
    assert page.text_content("h1").startswith("Exam video audit report")
    assert confirmed.locator("[data-role=review-badge]").text_content().strip() == "Confirmed"
    dismissed.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "review_after_reload_en.png"), full_page=True)
    assert not errors, errors

    from pipeline.review.reviews import load_reviews

    rows = load_reviews(evidence).to_pylist()
    assert [(r["verdict"], r["note"]) for r in rows] == [("confirmed", None), ("dismissed", NOTE)]


def test_static_report_from_disk(browser, evidence, tmp_path):
    # a copy in another place proves it needs nothing but its own folder
    copy = tmp_path / "evidence-copy"
    shutil.copytree(evidence, copy)
    page, errors = _page(browser)
    page.goto((copy / "report" / "index.html").as_uri())
    assert page.title().startswith("考场录像审计报告")
    s_rows = _visible_rows(page, "#sessions-table tr.srow")
    assert s_rows == ["S01", "S02"]
    box = page.locator("#sessions-table").bounding_box()
    assert box and box["height"] > 60 and box["width"] > 600
    cells = page.locator("#sessions-table tr.srow").first.locator("td").all_text_contents()
    assert cells[0] == "S01" and cells[1] == "C1" and "60%" in cells[7]
    assert len(_visible_rows(page, "#events-table tr.erow")) == 5
    # thumbnails load from disk (they are lazy: bring each into view, then wait for it to decode)
    thumbs = page.locator("#events-table img.thumb")
    assert thumbs.count() >= 5
    for i in range(thumbs.count()):
        thumbs.nth(i).scroll_into_view_if_needed()
        thumbs.nth(i).evaluate("i => i.decode()")
    loaded = page.eval_on_selector_all(
        "#events-table img.thumb", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)"
    )
    assert loaded and all(loaded)
    # timelines are drawn
    assert page.locator("figure.timeline svg.lane rect").count() > 10
    page.select_option("#f-centre", "C2")
    assert _visible_rows(page, "#sessions-table tr.srow") == ["S02"]
    assert _visible_rows(page, "#events-table tr.erow") == ["recording_missing"]
    page.click("#f-reset")
    # no review controls in the static page
    assert page.locator("button[data-verdict]").count() == 0
    page.screenshot(path=str(ARTIFACTS / "static_report.png"), full_page=True)
    assert not errors, errors


def test_review_app_and_report_on_sample_scan(browser, sample_scan, tmp_path):
    """The same flow on `examaudit scan` output of the generated sample centre."""
    import pyarrow.parquet as pq

    done, scanned = sample_scan
    assert done.returncode in (0, 1), done.stderr[-2000:]
    evidence = tmp_path / "evidence"
    shutil.copytree(scanned, evidence)  # reviews go to a copy, not the shared scan output
    events = pq.read_table(evidence / "events.parquet").to_pylist()
    sessions = pq.read_table(evidence / "sessions.parquet").to_pylist()
    with_clip = [e for e in events if e["clip"]]
    assert len(with_clip) >= 2
    kind = with_clip[0]["kind"]
    target, other = with_clip[0]["event_id"], with_clip[-1]["event_id"]
    with _serve(evidence) as url:
        page, errors = _page(browser)
        page.goto(f"{url}/report/")
        assert len(_visible_rows(page, "#events-table tr.erow")) == len(events)
        assert len(_visible_rows(page, "#sessions-table tr.srow")) == len(sessions)
        page.select_option("#f-kind", kind)
        shown = _visible_rows(page, "#events-table tr.erow")
        assert shown == [kind] * sum(e["kind"] == kind for e in events)
        row = page.locator(f"#events-table tr.erow[data-event='{target}']")
        video = row.locator("video").first
        video.scroll_into_view_if_needed()
        video.evaluate("v => { v.muted = true; return v.play(); }")
        page.wait_for_function(
            "v => v.readyState >= 2 && v.currentTime > 0.3",
            arg=video.element_handle(),
            timeout=15_000,
        )
        page.screenshot(path=str(ARTIFACTS / "samples_review_playing.png"))
        page.click("#f-reset")
        # the app asks the reviewer's name once (no name typed yet), then the browser keeps it
        prompts: list[str] = []

        def answer(dialog) -> None:
            prompts.append(dialog.type)
            dialog.accept("检查员甲")

        page.on("dialog", answer)
        row.locator("button[data-verdict=confirmed]").click()
        page.wait_for_function(
            f"() => document.querySelector(\"tr.erow[data-event='{target}']\")"
            ".dataset.review === 'confirmed'"
        )
        other_row = page.locator(f"#events-table tr.erow[data-event='{other}']")
        other_row.locator("textarea[data-role=note]").fill("画面正常，排除")
        other_row.locator("button[data-verdict=dismissed]").click()
        page.wait_for_function(
            f"() => document.querySelector(\"tr.erow[data-event='{other}']\")"
            ".dataset.review === 'dismissed'"
        )
        page.reload()
        assert row.get_attribute("data-review") == "confirmed"
        assert other_row.get_attribute("data-review") == "dismissed"
        assert prompts == ["prompt"]
        assert page.input_value("#reviewer") == "检查员甲"
        assert other_row.locator(".note-text").first.text_content() == "画面正常，排除"
        page.screenshot(path=str(ARTIFACTS / "samples_review_reloaded.png"), full_page=True)
        assert not errors, errors
    from pipeline.archive import check_archive

    assert check_archive(evidence) == []  # verdicts from the browser keep the seal whole

    page, errors = _page(browser)
    page.goto((scanned / "report" / "index.html").as_uri())
    assert len(_visible_rows(page, "#sessions-table tr.srow")) == len(sessions)
    assert len(_visible_rows(page, "#events-table tr.erow")) == len(events)
    box = page.locator("#sessions-table").bounding_box()
    assert box and box["height"] > 30 * len(sessions)
    page.screenshot(path=str(ARTIFACTS / "samples_static_report.png"))
    assert not errors, errors


_GRAB = """(v) => {
  const c = document.createElement('canvas'); c.width = 80; c.height = 60;
  const g = c.getContext('2d'); g.drawImage(v, 0, 0, 80, 60);
  return {t: v.currentTime, px: Array.from(g.getImageData(0, 0, 80, 60).data)};
}"""
_SEEK = """(t) => new Promise((ok, fail) => {
  const v = document.getElementById('v');
  const timer = setTimeout(() => fail(new Error('seek timed out')), 10000);
  v.onseeked = () => { clearTimeout(timer); ok(v.currentTime); };
  v.currentTime = t;
})"""


def test_spliced_clip_plays_in_chromium(browser, tmp_path):
    """A clip whose head GOP was re-encoded and the rest copied shows, in Chromium, the same
    pictures FFmpeg decodes: after seeks on both sides of the splice and after playing across
    it (the decoder must switch from x264's parameter sets back to the camera's)."""
    import av
    import cv2
    import numpy as np
    from fixture import encode_recording

    from pipeline.media.cutter import cut_clip

    src = encode_recording(tmp_path / "bgop.mp4", seconds=14, gop=50, audio=False, bframes=2)
    with av.open(str(src)) as c:
        keys = [float(p.pts * p.time_base) for p in c.demux(video=0) if p.is_keyframe]
    evidence = tmp_path / "evidence"
    clip = evidence / "clips" / "splice.mp4"
    assert cut_clip(src, 3.3, 12.0, clip, keys, max_lead_s=1.0).mode == "splice"
    with av.open(str(clip)) as c:
        ref = [
            (
                float(f.time),
                cv2.resize(f.to_ndarray(format="bgr24"), (80, 60), interpolation=cv2.INTER_AREA),
            )
            for f in c.decode(video=0)
        ]

    def expected(t: float) -> np.ndarray:
        # Chromium's currentTime is the stored presentation time (FFmpeg's frame.time)
        return ([img for ts, img in ref if ts <= t + 1e-3] or [ref[0][1]])[-1]

    def diff(got: dict, t: float) -> float:
        img = np.array(got["px"], np.uint8).reshape(60, 80, 4)[..., :3][..., ::-1]
        return float(np.abs(img.astype(int) - expected(t).astype(int)).mean())

    with _serve(evidence) as url:
        page, errors = _page(browser)
        page.goto(f"{url}/api/reviews")  # same origin as the clip, so the canvas is readable
        page.evaluate(
            "(src) => { document.body.innerHTML = '<video id=v muted preload=auto></video>';"
            " document.getElementById('v').src = src; }",
            f"{url}/files/clips/splice.mp4",
        )
        video = page.locator("#v")
        page.wait_for_function("() => document.getElementById('v').readyState >= 2")
        splice_at = 5.0 - 3.3
        splice_at += ref[0][0]  # clip time of the first copied keyframe
        for t in (ref[0][0] + 0.45, splice_at - 0.05, splice_at + 0.05, 6.05):
            page.evaluate(_SEEK, t)
            got = video.evaluate(_GRAB)
            match = diff(got, got["t"])
            others = [diff(got, got["t"] + d) for d in (-0.3, 0.3)]
            assert match < 8 and match < 0.6 * min(others), (t, match, others)
        page.evaluate(_SEEK, splice_at - 0.8)
        video.evaluate("v => v.play()")
        page.wait_for_function(
            f"() => document.getElementById('v').currentTime > {splice_at + 0.9}", timeout=15_000
        )
        video.evaluate("v => v.pause()")
        got = video.evaluate(_GRAB)
        match = diff(got, got["t"])
        others = [diff(got, got["t"] + d) for d in (-0.3, 0.3)]
        assert match < 8 and match < 0.6 * min(others), (match, others)
        assert video.evaluate("v => v.error") is None
        assert not errors, errors


def _as_centre(src: Path, dst: Path, centre: str, keep_session: str | None = None) -> Path:
    """A copy of an evidence folder filed as another centre (its sessions' ``centre_id``),
    with its fingerprints cut to one session when ``keep_session`` is given."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    shutil.copytree(src, dst)
    sessions = pq.read_table(dst / "sessions.parquet")
    column = pa.array([centre] * sessions.num_rows, sessions.schema.field("centre_id").type)
    sessions = sessions.set_column(
        sessions.schema.get_field_index("centre_id"), "centre_id", column
    )
    pq.write_table(sessions, dst / "sessions.parquet")
    if keep_session is not None:
        fp = pq.read_table(dst / "fingerprints.parquet")
        pq.write_table(
            fp.filter(pc.equal(fp["session_id"], keep_session)), dst / "fingerprints.parquet"
        )
    return dst


def test_inspectorate_pages_from_disk(browser, sample_scan, tmp_path):
    """`summary` and `crosscheck` pages as an inspector opens them from disk: tables filled,
    thumbnails decoded, the language switch, nothing fetched, no script errors."""
    from pipeline.cli import main

    done, scanned = sample_scan
    assert done.returncode in (0, 1), done.stderr[-2000:]
    # the sample centre's practical session S07, as if centre C02 had filed it too
    other = _as_centre(scanned, tmp_path / "C02", "C02", keep_session="S07")
    assert main(["summary", str(scanned), str(other), "--out", str(tmp_path / "sum")]) == 0
    assert main(["crosscheck", str(scanned), str(other), "--out", str(tmp_path / "cc")]) == 0

    page, errors = _page(browser)
    page.goto((tmp_path / "sum" / "index.html").as_uri())
    months = page.locator("#months tbody tr").all_text_contents()
    assert len(months) == 2 and any("C01" in m for m in months) and any("C02" in m for m in months)
    assert page.locator("svg.chart rect").count() > 0
    heading = page.locator("h1").text_content()
    page.click("#lang-switch")
    assert (
        page.get_attribute("html", "lang") == "en" and page.locator("h1").text_content() != heading
    )
    page.screenshot(path=str(ARTIFACTS / "summary.png"), full_page=True)
    assert not errors, errors

    page, errors = _page(browser)
    page.goto((tmp_path / "cc" / "crosscheck.html").as_uri())
    rows = page.locator("#pairs tbody tr")
    assert rows.count() >= 1
    first = rows.first.locator("td").all_text_contents()
    assert "C01 / S07" in first[1] and "C02 / S07" in first[3], first
    thumbs = page.locator("#pairs img")
    assert thumbs.count() == 2 * rows.count()
    for i in range(thumbs.count()):
        thumbs.nth(i).evaluate("i => i.decode()")
    loaded = page.eval_on_selector_all("#pairs img", "imgs => imgs.map(i => i.naturalWidth > 0)")
    assert all(loaded), loaded
    # long evidence paths wrap: the pictures are on screen without scrolling sideways
    box = thumbs.last.bounding_box()
    assert box and box["x"] + box["width"] <= 1400, box
    page.click("#lang-switch")
    assert "Verified" in page.locator("#pairs thead").text_content()
    page.screenshot(path=str(ARTIFACTS / "crosscheck.png"), full_page=True)
    assert not errors, errors
