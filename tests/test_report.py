"""The static report (self-contained, bilingual, escaped) and the overview notebook."""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fixture import HOSTILE, build_demo_evidence, write_events

from pipeline.review.clips import cut_event_media
from pipeline.review.report import write_report
from pipeline.review.reviews import append_review
from pipeline.review.sheets import write_contact_sheets

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = build_demo_evidence(tmp_path_factory.mktemp("report"))
    events = cut_event_media(d.events, d.probes, d.evidence, d.site)
    write_events(d.evidence, events)
    write_contact_sheets(d.sessions, d.probes, d.evidence, d.site)
    append_review(d.evidence, events[0].event_id, "dismissed", "<b>not</b> an issue", "李")
    return d, events


class _Page(HTMLParser):
    """Collects tags, attributes and the text of every element with an id."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(html: str) -> _Page:
    p = _Page()
    p.feed(html)
    return p


def test_report_is_self_contained(demo):
    d, _ = demo
    path = write_report(d.evidence)
    assert path == d.evidence / "report" / "index.html"
    html = path.read_text(encoding="utf-8")
    page = _parse(html)
    for tag, attrs in page.tags:
        for key in ("src", "href", "poster"):
            value = attrs.get(key)
            if value is None:
                continue
            assert not re.match(r"^(https?:)?//", value), (tag, key, value)
            if not value.startswith(("#", "data:")):
                # every local link resolves to a file in the evidence folder
                assert (path.parent / value).resolve().is_file(), value
        assert not (tag == "link" and attrs.get("rel") == "stylesheet"), "external stylesheet"
        assert not (tag == "script" and attrs.get("src")), "external script"
    assert "@import" not in html and "url(" not in html and "@font-face" not in html
    assert not list((d.evidence / "report").glob(".*"))


def test_tables_timelines_and_media(demo):
    d, events = demo
    html = write_report(d.evidence).read_text(encoding="utf-8")
    page = _parse(html)
    srows = [a for t, a in page.tags if t == "tr" and a.get("class") == "srow"]
    erows = [a for t, a in page.tags if t == "tr" and a.get("class") == "erow"]
    assert [r["data-session"] for r in srows] == ["S01", "S02"]
    assert sorted(r["data-event"] for r in erows) == sorted(e.event_id for e in events)
    assert {r["data-kind"] for r in erows} == {e.kind for e in events}
    videos = [a["src"] for t, a in page.tags if t == "video"]
    with_clip = [e for e in events if e.clip]
    assert len(with_clip) == 2 and len(videos) == 3  # black_screen has head + tail
    assert all(v.startswith("../clips/") for v in videos)
    imgs = [a["src"] for t, a in page.tags if t == "img"]
    assert sum(i.startswith("../thumbs/session_") for i in imgs) == 2
    assert sum(not i.startswith("../thumbs/session_") for i in imgs) == len(events)
    # timeline: S01 recorded 24 of 40 s -> one green bar and one red gap bar at 60 %
    s01 = html[html.index('id="tl-s-S01"') : html.index('id="tl-s-S02"')]
    rects = re.findall(
        r'<rect (?:class="gap" )?x="([\d.]+)" y="0" width="([\d.]+)" height="10" fill="(#\w+)"', s01
    )
    green = [(float(x), float(w)) for x, w, c in rects if c == "#16a34a"]
    red = [(float(x), float(w)) for x, w, c in rects if c == "#dc2626"]
    assert green == [(0.0, 600.0)] and red[0] == (600.0, 400.0)
    # proctor lane: absent 5..9 s -> present in two runs around it
    blue = [(float(x), float(w)) for x, w, c in rects if c == "#0ea5e9"]
    assert len(blue) == 2 and blue[0][0] == 0.0


def test_chinese_default_english_switch_and_escaping(demo):
    d, _ = demo
    html = write_report(d.evidence).read_text(encoding="utf-8")
    assert '<html lang="zh-CN" data-lang="zh"' in html
    assert "考场录像审计报告" in html and 'data-en="Exam video audit report"' in html
    assert "监考缺席" in html and 'data-en="Proctor absent"' in html
    en = write_report(d.evidence, lang="en").read_text(encoding="utf-8")
    assert '<html lang="en" data-lang="en"' in en
    assert ">Exam video audit report<" in en and 'data-zh="考场录像审计报告"' in en
    for page in (html, en):
        assert "<script>alert" not in page and "R<b>2</b>" not in page and "<b>not</b>" not in page
        assert "R&lt;b&gt;2&lt;/b&gt;" in page
        assert HOSTILE not in page
        assert "&lt;b&gt;not&lt;/b&gt; an issue" in page  # stored review note shown as text
        assert page.count("<script>") == 1  # our own inline script only
    with pytest.raises(ValueError):
        write_report(d.evidence, lang="fr")


def test_report_refuses_a_folder_without_evidence(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"sessions\.parquet"):
        write_report(tmp_path)


def test_notebook_runs_on_the_evidence(demo):
    nbclient = pytest.importorskip("nbclient")
    import nbformat

    d, events = demo
    nb = nbformat.read(ROOT / "notebooks" / "audit_overview.ipynb", as_version=4)
    old = os.environ.get("EXAMAUDIT_EVIDENCE")
    os.environ["EXAMAUDIT_EVIDENCE"] = str(d.evidence)
    try:
        nbclient.NotebookClient(
            nb,
            timeout=120,
            kernel_name="python3",
            resources={"metadata": {"path": str(ROOT / "notebooks")}},
        ).execute()
    finally:
        if old is None:
            os.environ.pop("EXAMAUDIT_EVIDENCE", None)
        else:
            os.environ["EXAMAUDIT_EVIDENCE"] = old
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    summary = json.loads(text.split("SUMMARY ", 1)[1].splitlines()[0])
    assert summary["sessions"] == 2 and summary["flagged"] == 2
    assert summary["events"] == len(events)
    assert summary["events_by_kind"]["proctor_absent"] == 1
    assert summary["reviews"] == {"dismissed": 1}
    assert abs(summary["mean_coverage"] - 0.3) < 1e-6


def test_pages_compile_their_templates_once_and_keep_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The report's templates are compiled once per process (one environment per folder) and
    once per machine (Jinja's bytecode cache in a private temp folder): a fresh process loads
    them without compiling. A temp directory that cannot hold the cache costs only that."""
    import tempfile

    import jinja2

    from pipeline.review import templating
    from pipeline.review.report import TEMPLATES

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    templating.environment.cache_clear()
    env = templating.environment(TEMPLATES)
    assert templating.environment(TEMPLATES) is env
    first = env.get_template("report.html.j2")
    assert env.get_template("report.html.j2") is first
    assert list(tmp_path.glob("_jinja2-cache-*/__jinja2_*.cache"))

    def no_compiling(*args, **kwargs):
        raise AssertionError("compiled again")

    templating.environment.cache_clear()  # as in a new process, with the compiler gone
    monkeypatch.setattr(jinja2.Environment, "compile", no_compiling)
    assert templating.environment(TEMPLATES).get_template("report.html.j2").render is not None
    monkeypatch.undo()

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(blocked))
    templating.environment.cache_clear()
    try:
        env = templating.environment(TEMPLATES)
        assert env.bytecode_cache is None
        assert "<html" in env.from_string("<html>{{ x }}</html>").render(x="<b>")
        assert "&lt;b&gt;" in env.from_string("{{ x }}").render(x="<b>")
    finally:
        templating.environment.cache_clear()
