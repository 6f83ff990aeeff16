"""The box office's static files (CSS, JS, the vendored QR scanner) at /static/boxoffice/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from api.boxoffice.templating import STATIC_DIR
from api.errors import ApiError

routes = web.RouteTableDef()

STATIC_MAX_AGE_SECONDS = 300
STATIC_FILES: dict[str, Path] = {
    path.relative_to(STATIC_DIR).as_posix(): path
    for path in STATIC_DIR.rglob("*") if path.is_file()
}
"""Every file under static/, by its relative path: nothing else (no traversal) is served."""


@routes.get("/static/boxoffice/{name:.+}")
async def asset(request: web.Request) -> web.FileResponse:
    """Anyone: the box office's scripts, styles and vendored libraries."""
    path = STATIC_FILES.get(request.match_info["name"])
    if path is None:
        raise ApiError(404, "not_found", f"no such resource: {request.path}")
    return web.FileResponse(path, headers={
        "Cache-Control": f"public, max-age={STATIC_MAX_AGE_SECONDS}",
        "X-Content-Type-Options": "nosniff"})


OPENAPI_PATHS: dict[str, Any] = {
    "/static/boxoffice/{name}": {"get": {
        "summary": "The box office pages' scripts, styles and vendored libraries",
        "tags": ["Storefront"], "x-who-may-call": "anyone",
        "parameters": [{"name": "name", "in": "path", "required": True,
                        "schema": {"type": "string"}}],
        "responses": {"200": {"description": "The file."},
                      "404": {"description": "No such file."}}}},
}
