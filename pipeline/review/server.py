"""``examaudit review EVIDENCE``: the report page plus confirm / dismiss / note.

Routes: ``/`` and ``/report/`` (the live page), ``/files/<path>`` (evidence files only, with
HTTP Range for video), ``GET|POST /api/reviews``. Safety: binds 127.0.0.1 by default, where it
needs no token; bound to any other address it makes a random token, prints it in the URL
(``?token=``, as Jupyter does), swaps it for an HttpOnly cookie on the first visit and answers
every request without it 403 (nothing is written). File paths are refused when absolute, when
any part is ``..`` or hidden, or when they resolve (symlinks included) outside EVIDENCE; POST
needs ``Content-Type: application/json``, a reviewer name and, when the browser sends an
``Origin``, the same host (so another web site cannot post verdicts); pages carry a
Content-Security-Policy that allows nothing from outside. Every verdict re-seals the manifest
(signed when the app was given ``--sign-key``).
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

import pyarrow.parquet as pq
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from pipeline.review.report import LANGS, render_report
from pipeline.review.reviews import VERDICTS, ReviewLogBroken, append_review, load_reviews

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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
LOOPBACK = ("127.0.0.1", "localhost", "::1")
TOKEN_COOKIE = "examaudit_token"


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


def _authorised(request: Request, token: str | None) -> bool:
    if token is None:
        return True
    offered = (
        request.query_params.get("token")
        or request.cookies.get(TOKEN_COOKIE)
        or request.headers.get("authorization", "").removeprefix("token ").strip()
    )
    return bool(offered) and hmac.compare_digest(offered.encode(), token.encode())


def create_app(
    evidence_dir: Path,
    token: str | None = None,
    sign_key: Ed25519PrivateKey | None = None,
) -> Starlette:
    """The app; with ``token`` every request must carry it (query, cookie or header)."""
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
            reviewer = str(data.get("reviewer") or "").strip()
        except ValueError as exc:
            return JSONResponse({"error": f"bad JSON: {exc}"}, status_code=400)
        if verdict not in VERDICTS:
            return JSONResponse(
                {"error": f"verdict must be one of {', '.join(VERDICTS)}"}, status_code=400
            )
        if event_id not in event_ids():
            return JSONResponse({"error": "unknown event_id"}, status_code=404)
        if not reviewer:
            return JSONResponse({"error": "reviewer name required"}, status_code=400)
        try:
            row = append_review(evidence, event_id, verdict, note, reviewer, sign_key=sign_key)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except ReviewLogBroken as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        row["reviewed_at"] = row["reviewed_at"].isoformat()
        return JSONResponse(row, status_code=201, headers=HEADERS)

    async def guard(request: Request, call_next):
        if not _authorised(request, token):
            return JSONResponse(
                {"error": "token required: open the URL printed by `examaudit review`"},
                status_code=403,
                headers=HEADERS,
            )
        if token is not None and request.query_params.get("token"):
            # swap the token in the URL for a cookie, so it leaves the address bar and history
            rest = {k: v for k, v in request.query_params.items() if k != "token"}
            response = RedirectResponse(
                request.url.path + (f"?{urlencode(rest)}" if rest else ""), status_code=303
            )
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/")
            return response
        return await call_next(request)

    app = Starlette(
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=guard)],
        routes=[
            Route("/", index),
            Route("/favicon.ico", favicon),
            Route("/report/", report),
            Route("/report/index.html", report),
            Route("/files/{path:path}", files),
            Route("/api/reviews", get_reviews, methods=["GET"]),
            Route("/api/reviews", post_review, methods=["POST"]),
        ],
    )
    app.state.lang = "zh"
    app.state.evidence = evidence
    return app


def serve(
    evidence_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8765,
    lang: str = "zh",
    sign_key: Ed25519PrivateKey | None = None,
) -> None:
    """Run the review app with uvicorn until interrupted; beyond loopback, behind a token."""
    import uvicorn

    token = None if host in LOOPBACK else secrets.token_urlsafe(24)
    app = create_app(evidence_dir, token=token, sign_key=sign_key)
    app.state.lang = lang if lang in LANGS else "zh"
    query = f"?token={token}" if token else ""
    print(f"examaudit review: http://{host}:{port}/report/{query}  (Ctrl-C to stop)", flush=True)
    if token:
        print("  listening beyond this machine: only this URL (its token) opens the app")
    uvicorn.run(app, host=host, port=port, log_level="warning")
