"""The ops dashboard page and its static files: plain HTML, CSS and JS, no build step.

The page signs in through `/auth/login`, keeps the session token in
sessionStorage (`onsale.ops.sessionToken`: gone when the tab closes), and is a
thin client of the ops JSON and SSE endpoints, which do the refusing: a
signed-in account without the ops role sees the refusal on the page. Charts
use uPlot, vendored unmodified under `api/ops/static/vendor/uplot/` with its
license. The static files are served by the ops sub-app's static route
(`api.ops.create_ops_app`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp_jinja2 import render_string

from api.http.error_codes import ApiErrorCode
from api.http.openapi_spec import error_codes
from api.ops.common import public, routes

STATIC_DIR = Path(__file__).resolve().parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@routes.get("")
@public
async def dashboard_page(request: web.Request) -> web.Response:
    """Anyone may load the page; every figure and control behind it is ops only."""
    return web.Response(
        text=render_string("ops/dashboard.html", request, {}),
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-cache", **SECURITY_HEADERS},
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
            "x-error-codes": error_codes((ApiErrorCode.NOT_FOUND,)),
            "tags": ["ops"],
            "x-who-may-call": "Anyone",
            "responses": {
                "200": {"description": "The file."},
                "404": {"description": "`not_found`."},
            },
        },
    },
}
