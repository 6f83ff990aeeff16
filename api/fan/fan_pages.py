"""The fan's waiting page: a template, CSS and JS served by the API, no build step.

The page is a thin client of the queue endpoints (the same JSON a mobile app
uses): it joins, polls at the interval the server suggests (only a keep-alive
while the tab is hidden), shows position, people ahead, progress and ETA,
and when the fan is admitted stores the admission token in sessionStorage
(`onsale.admission.<event_id>`: `{"token", "expires_at"}`) and moves on to
the seat-selection page `/events/{event_id}/book`. The session token is read
from localStorage (`onsale.sessionToken`); without one the page asks the fan
to sign in first.

`GET /events/{event_id}` (the catalog's route) answers browsers with
`waiting_page`; `/events/{event_id}/waiting-room` is the same page at a URL
that never depends on content negotiation. `api.fan.waitingroom_http` registers
the routes of this module with its own. The HTML is `templates/waiting_room.html`
(Jinja2, autoescaped); its script and stylesheet are static files under
`static/waitingroom/`.
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
from api.http.openapi_spec import error_codes
from api.http.params import ascii_id
from engine.store.models import EventRow, VenueRow

STATIC_DIR = Path(__file__).parent / "static" / "waitingroom"
"""Served at `/static/waitingroom/` (`api.http.routes.STATIC_FOLDERS`)."""
STATIC_FILES = ("waiting.js", "waiting.css")
SESSION_STORAGE_KEY = "onsale.sessionToken"
ADMISSION_STORAGE_PREFIX = "onsale.admission."



def _event_id(request: web.Request) -> int | None:
    return ascii_id(request.match_info["event_id"])


def _lookup(engine: sa.Engine, event_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(EventRow.name, EventRow.starts_at, VenueRow.name, VenueRow.city)
            .join(VenueRow, VenueRow.id == EventRow.venue_id)
            .where(EventRow.id == event_id, EventRow.status == "published")
        ).first()
    if row is None:
        return None
    return {"name": row[0], "starts_at": row[1], "venue": row[2], "city": row[3]}


async def waiting_page(request: web.Request) -> web.Response:
    """Anyone (the page signs the fan in): the waiting page of a published event."""
    event_id = _event_id(request)
    event = None
    if event_id is not None:
        event = await asyncio.to_thread(_lookup, request.app[DB_ENGINE_KEY], event_id)
    if event_id is None or event is None:
        return page_not_found(
            request, lambda: render_string("fan/waiting_room_not_found.html", request, {}),
            "event", {"event_id": request.match_info["event_id"]})
    return web.Response(
        text=render_string("fan/waiting_room.html", request, _page_context(event_id, event)),
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-cache"},
    )


async def waiting_room_page(request: web.Request) -> web.Response:
    """Anyone (the page signs the fan in): the waiting page of a published event (HTML)."""
    return await waiting_page(request)


def _page_context(event_id: int, event: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": event_id, "name": event["name"],
            "where": f"{event['venue']}, {event['city']}",
            "when": event["starts_at"].isoformat(),
            "when_text": event["starts_at"].strftime("%Y-%m-%d %H:%M %Z").strip(),
            "session_key": SESSION_STORAGE_KEY, "admission_prefix": ADMISSION_STORAGE_PREFIX}


def _html_page(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


OPENAPI_PATHS: dict[str, Any] = {
    "/events/{event_id}/waiting-room": {
        "get": {
            "tags": ["fan pages"],
            "summary": "The event's waiting page (HTML; the same page GET /events/{id} gives "
            "browsers)",
            "parameters": [
                {"name": "event_id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {
                "200": _html_page("the waiting page"),
                "404": _html_page("no published event with this id"),
            },
        }
    },
    "/static/waitingroom/{name}": {
        "get": {
            "tags": ["fan pages"],
            "summary": "The waiting page's script and stylesheet",
            "x-error-codes": error_codes((ApiErrorCode.NOT_FOUND,)),
            "x-who-may-call": "Anyone",
            "parameters": [
                {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": list(STATIC_FILES)},
                }
            ],
            "responses": {
                "200": {"description": "the file"},
                "404": {"description": "no such file"},
            },
        }
    },
}
