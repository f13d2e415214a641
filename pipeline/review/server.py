"""``examaudit review EVIDENCE``: the report page plus confirm / dismiss / note, on localhost.

Routes: ``/`` and ``/report/`` (the live page), ``/files/<path>`` (evidence files only, with
HTTP Range for video), ``GET|POST /api/reviews``. Safety: binds 127.0.0.1 by default; file
paths are refused when absolute, when any part is ``..`` or hidden, or when they resolve
(symlinks included) outside EVIDENCE; POST needs ``Content-Type: application/json`` and, when
the browser sends an ``Origin``, the same host (so another web site cannot post verdicts);
pages carry a Content-Security-Policy that allows nothing from outside.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pyarrow.parquet as pq
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from pipeline.review.report import LANGS, render_report
from pipeline.review.reviews import VERDICTS, append_review, load_reviews

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
MAX_BODY = 16_384


class UnsafePath(ValueError):
    """A requested path that is not a file inside EVIDENCE."""


def safe_path(root: Path, requested: str) -> Path:
    """Resolve ``requested`` inside ``root`` or raise :class:`UnsafePath`."""
    if not requested or "\x00" in requested or "\\" in requested:
        raise UnsafePath("empty or malformed path")
    pure = PurePosixPath(requested)
    if pure.is_absolute() or requested.startswith("/"):
        raise UnsafePath("absolute paths are refused")
    if any(part in ("..", ".") or part.startswith(".") for part in pure.parts):
        raise UnsafePath("'..' and hidden path parts are refused")
    base = root.resolve()
    target = (base / pure).resolve()
    if not target.is_relative_to(base):
        raise UnsafePath("path leaves the evidence folder")
    if not target.is_file():
        raise FileNotFoundError(requested)
    return target


def create_app(evidence_dir: Path) -> Starlette:
    evidence = Path(evidence_dir).resolve()
    if not evidence.is_dir():
        raise FileNotFoundError(f"{evidence_dir}: evidence folder not found")

    def event_ids() -> set[str]:
        path = evidence / "events.parquet"
        if not path.exists():
            return set()
        return set(pq.read_table(path, columns=["event_id"]).column("event_id").to_pylist())

    async def index(request: Request) -> Response:
        return RedirectResponse("/report/", status_code=302)

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    async def report(request: Request) -> Response:
        lang = request.query_params.get("lang", app.state.lang)
        if lang not in LANGS:
            lang = "zh"
        html = render_report(evidence, lang=lang, mode="server", media_prefix="/files/")
        return HTMLResponse(html, headers=HEADERS)

    async def files(request: Request) -> Response:
        requested = request.path_params["path"]
        try:
            target = safe_path(evidence, requested)
        except UnsafePath as exc:
            return JSONResponse({"error": f"refused: {exc}"}, status_code=403, headers=HEADERS)
        except (FileNotFoundError, OSError):
            return JSONResponse({"error": "not found"}, status_code=404, headers=HEADERS)
        if target.suffix == ".html":  # report pages come from /report/, rendered live
            return JSONResponse({"error": "refused: html is served at /report/"}, status_code=403)
        return FileResponse(
            target, headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
        )

    async def get_reviews(request: Request) -> Response:
        rows = load_reviews(evidence).to_pylist()
        for r in rows:
            r["reviewed_at"] = r["reviewed_at"].isoformat() if r["reviewed_at"] else None
        return JSONResponse(rows, headers=HEADERS)

    async def post_review(request: Request) -> Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "Content-Type must be application/json"}, status_code=415)
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
            return JSONResponse({"error": "cross-origin request refused"}, status_code=403)
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "request too large"}, status_code=413)
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            event_id = str(data.get("event_id") or "")
            verdict = str(data.get("verdict") or "")
            note = str(data.get("note") or "")
            reviewer = str(data.get("reviewer") or "")
        except ValueError as exc:
            return JSONResponse({"error": f"bad JSON: {exc}"}, status_code=400)
        if verdict not in VERDICTS:
            return JSONResponse(
                {"error": f"verdict must be one of {', '.join(VERDICTS)}"}, status_code=400
            )
        if event_id not in event_ids():
            return JSONResponse({"error": "unknown event_id"}, status_code=404)
        try:
            row = append_review(evidence, event_id, verdict, note, reviewer)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        row["reviewed_at"] = row["reviewed_at"].isoformat()
        return JSONResponse(row, status_code=201, headers=HEADERS)

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/favicon.ico", favicon),
            Route("/report/", report),
            Route("/report/index.html", report),
            Route("/files/{path:path}", files),
            Route("/api/reviews", get_reviews, methods=["GET"]),
            Route("/api/reviews", post_review, methods=["POST"]),
        ]
    )
    app.state.lang = "zh"
    app.state.evidence = evidence
    return app


def serve(evidence_dir: Path, host: str = "127.0.0.1", port: int = 8765, lang: str = "zh") -> None:
    """Run the review app with uvicorn until interrupted."""
    import uvicorn

    app = create_app(evidence_dir)
    app.state.lang = lang if lang in LANGS else "zh"
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("review app listens on %s: anyone who can reach it can change verdicts", host)
    print(f"examaudit review: http://{host}:{port}/report/  (Ctrl-C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
