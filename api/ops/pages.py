"""The ops dashboard page and its static files: plain HTML, CSS and JS, no build step.

The page signs in through `/auth/login`, keeps the session token in
sessionStorage (`onsale.ops.sessionToken`: gone when the tab closes), and is a
thin client of the ops JSON and SSE endpoints, which do the refusing: a
signed-in account without the ops role sees the refusal on the page. Charts
use uPlot, vendored unmodified under `api/static/ops/vendor/uplot/` with its
license.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from aiohttp import web

from api.http.errors import ApiError
from api.ops.common import routes

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "ops"
STATIC_MAX_AGE_SECONDS = 300
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _static_files() -> dict[str, Path]:
    """Every file under the static directory, by its path relative to it (no traversal)."""
    if not STATIC_DIR.is_dir():
        return {}
    return {
        path.relative_to(STATIC_DIR).as_posix(): path
        for path in STATIC_DIR.rglob("*")
        if path.is_file() and path.name != "index.html"
    }


STATIC_FILES = _static_files()


@routes.get("/ops")
async def dashboard_page(request: web.Request) -> web.Response:
    """Anyone may load the page; every figure and control behind it is ops only."""
    return web.Response(
        body=(STATIC_DIR / "index.html").read_bytes(),
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-cache", **SECURITY_HEADERS},
    )


@routes.get("/ops/static/{name:.+}")
async def dashboard_asset(request: web.Request) -> web.Response:
    """Anyone: the dashboard's scripts, styles and the vendored chart library."""
    name = request.match_info["name"]
    path = STATIC_FILES.get(name)
    if path is None:
        raise ApiError(404, "not_found", f"no such resource: {request.path}")
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return web.Response(
        body=path.read_bytes(),
        content_type=content_type,
        charset="utf-8" if content_type.startswith(("text/", "application/javascript")) else None,
        headers={
            "Cache-Control": f"public, max-age={STATIC_MAX_AGE_SECONDS}",
            "X-Content-Type-Options": "nosniff",
        },
    )


OPENAPI_PATHS: dict[str, Any] = {
    "/ops": {
        "get": {
            "summary": "The ops dashboard (HTML; anyone may load it, its data is ops only)",
            "tags": ["ops"],
            "responses": {
                "200": {
                    "description": "The page.",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/ops/static/{name}": {
        "parameters": [
            {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "get": {
            "summary": "The dashboard's static files (scripts, styles, vendored uPlot)",
            "tags": ["ops"],
            "responses": {
                "200": {"description": "The file."},
                "404": {"description": "`not_found`."},
            },
        },
    },
}
