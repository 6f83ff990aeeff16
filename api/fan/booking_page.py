"""The seat-selection page for admitted fans: a template, an SVG seat map, no build step.

The page is a client of the public JSON API: it draws `GET /events/{id}/seats`
as SVG, keeps it live with the availability stream (SSE), lets the fan click
seats or ask for the best available (or a general-admission quantity), then
reserves, shows the hold with its countdown, and checks out. The session token
is shared with the waiting page (localStorage `onsale.sessionToken`), the
admission token comes from the waiting page (sessionStorage
`onsale.admission.<event_id>`) and travels as `X-Admission-Token`. The HTML is
`templates/booking.html` (Jinja2, autoescaped); its script and stylesheet are
static files under `static/booking/`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from aiohttp_jinja2 import render_string

from api.http.appkeys import DB_ENGINE_KEY
from api.http.error_codes import ApiErrorCode
from api.http.errors import page_not_found
from api.http.openapi_spec import ID_SCHEMA, ok, operation, param
from api.http.params import ascii_id

routes = web.RouteTableDef()

STATIC_DIR = Path(__file__).parent / "static" / "booking"
"""Served at `/static/booking/` (`api.http.routes.STATIC_FOLDERS`)."""
STATIC_FILES = ("book.js", "book.css")
SESSION_STORAGE_KEY = "onsale.sessionToken"
ADMISSION_STORAGE_PREFIX = "onsale.admission."


def _lookup(engine: sa.Engine, event_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT e.name, e.starts_at, e.buyer_limit, e.currency, v.name AS venue, v.city"
            " FROM events e JOIN venues v ON v.id = e.venue_id"
            " WHERE e.id = :id AND e.status = 'published'"), {"id": event_id}).first()
    return dict(row._mapping) if row else None


def _page_context(event_id: int, event: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": event_id, "name": event["name"],
            "where": f"{event['venue']}, {event['city']}",
            "when": event["starts_at"].isoformat(), "buyer_limit": event["buyer_limit"],
            "currency": event["currency"], "session_key": SESSION_STORAGE_KEY,
            "admission_prefix": ADMISSION_STORAGE_PREFIX}


@routes.get("/events/{event_id}/book")
async def booking_page(request: web.Request) -> web.Response:
    """Anyone (the page signs the fan in; booking needs admission): the seat-selection page."""
    raw = request.match_info["event_id"]
    event_id = ascii_id(raw)
    event = None
    if event_id is not None:
        event = await asyncio.to_thread(_lookup, request.app[DB_ENGINE_KEY], event_id)
    if event_id is None or event is None:
        return page_not_found(
            request, lambda: render_string("fan/booking_not_found.html", request, {}), "event",
            {"event_id": raw})
    return web.Response(
        text=render_string("fan/booking.html", request, _page_context(event_id, event)),
        content_type="text/html", headers={"Cache-Control": "no-cache"})


OPENAPI_PATHS: dict[str, Any] = {
    "/events/{event_id}/book": {"get": operation(
        "Seat-selection page (HTML)", who="anyone; booking from it needs sign-in and admission",
        tags=["Fan pages"],
        parameters=[param("event_id", "path", ID_SCHEMA, "A published event.")],
        responses={200: ok({"type": "string"}, "HTML.", content_type="text/html"),
                   404: ok({"type": "string"}, "Not on sale (HTML).",
                           content_type="text/html")})},
    "/static/booking/{name}": {"get": operation(
        "The seat-selection page's assets", who="anyone", tags=["Fan pages"],
        errors=(ApiErrorCode.NOT_FOUND,),
        parameters=[param("name", "path", {"type": "string", "enum": list(STATIC_FILES)},
                          "book.js or book.css")],
        responses={200: ok({"type": "string"}, "The file.", content_type="text/plain")})},
}
