"""The fan's waiting page: plain HTML, CSS and JS served by the API, no build step.

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
that never depends on content negotiation. `api.waitingroom_http` registers
the routes of this module with its own.
"""

from __future__ import annotations

import asyncio
import html
import mimetypes
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from api.errors import page_not_found
from api.keys import DB_ENGINE_KEY
from api.params import ascii_id
from engine.store.models import EventRow, VenueRow

STATIC_DIR = Path(__file__).parent / "static" / "waitingroom"
STATIC_FILES = ("waiting.js", "waiting.css")
STATIC_MAX_AGE_SECONDS = 300
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
        return page_not_found(request, _not_found_html(), "event",
                              {"event_id": request.match_info["event_id"]})
    return web.Response(
        text=_page_html(event_id, event),
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-cache"},
    )


async def waiting_room_page(request: web.Request) -> web.Response:
    """Anyone (the page signs the fan in): the waiting page of a published event (HTML)."""
    return await waiting_page(request)


async def waiting_room_asset(request: web.Request) -> web.StreamResponse:
    """Anyone: the waiting page's script and stylesheet."""
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return web.FileResponse(
        STATIC_DIR / name,
        headers={
            "Cache-Control": f"public, max-age={STATIC_MAX_AGE_SECONDS}",
            "Content-Type": f"{content_type}; charset=utf-8",
        },
    )


def _page_html(event_id: int, event: dict[str, Any]) -> str:
    name = html.escape(event["name"])
    where = html.escape(f"{event['venue']}, {event['city']}")
    when = event["starts_at"].isoformat()
    when_text = html.escape(event["starts_at"].strftime("%Y-%m-%d %H:%M %Z").strip())
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Waiting room: {name}</title>
<link rel="stylesheet" href="/static/waitingroom/waiting.css">
<script src="/static/waitingroom/waiting.js" defer></script>
</head>
<body>
<main id="waiting-room" data-event-id="{event_id}" data-book-url="/events/{event_id}/book"
      data-session-key="{SESSION_STORAGE_KEY}" data-admission-prefix="{ADMISSION_STORAGE_PREFIX}">
  <header>
    <p class="kicker">Waiting room</p>
    <h1>{name}</h1>
    <p class="where">{where} &middot; <time datetime="{when}">{when_text}</time></p>
  </header>

  <noscript><p class="notice">This page needs JavaScript to hold your place in line.</p></noscript>

  <section id="panel-signin" class="panel" hidden aria-labelledby="signin-title">
    <h2 id="signin-title" tabindex="-1">Sign in to join the line</h2>
    <form id="signin-form" novalidate>
      <label for="signin-email">Email</label>
      <input id="signin-email" name="email" type="email" autocomplete="email" required>
      <label for="signin-password">Password</label>
      <input id="signin-password" name="password" type="password"
             autocomplete="current-password" required minlength="12">
      <div class="actions">
        <button type="submit" name="mode" value="login">Sign in</button>
        <button type="submit" name="mode" value="register" class="secondary">
          Create an account</button>
      </div>
      <p id="signin-error" class="error" role="alert"></p>
    </form>
  </section>

  <section id="panel-line" class="panel" hidden aria-labelledby="line-title">
    <h2 id="line-title" tabindex="-1">You are in line</h2>
    <p id="line-note" class="note"></p>
    <dl class="figures">
      <div><dt>Your place</dt><dd id="fig-position">&ndash;</dd></div>
      <div><dt>People ahead of you</dt><dd id="fig-ahead">&ndash;</dd></div>
      <div><dt>Estimated wait</dt><dd id="fig-eta">&ndash;</dd></div>
    </dl>
    <label for="progress" class="progress-label">Progress through the line</label>
    <progress id="progress" max="100" value="0">0%</progress>
    <p class="hint">Keep this page open: we move you on to seat selection automatically.
      It updates by itself; you do not need to refresh.</p>
    <button type="button" id="leave" class="secondary">Leave the line</button>
  </section>

  <section id="panel-admitted" class="panel" hidden aria-labelledby="admitted-title">
    <h2 id="admitted-title" tabindex="-1">It is your turn</h2>
    <p>Taking you to seat selection&hellip;
      <a id="book-link" href="/events/{event_id}/book">Continue to seat selection</a></p>
  </section>

  <section id="panel-ended" class="panel" hidden aria-labelledby="ended-title">
    <h2 id="ended-title" tabindex="-1">You are no longer in line</h2>
    <p id="ended-note"></p>
    <button type="button" id="rejoin">Join the line again</button>
  </section>

  <p id="problem" class="notice" role="alert" hidden></p>
  <div id="announcer" class="visually-hidden" aria-live="polite" aria-atomic="true"></div>
</main>
</body>
</html>
"""


def _not_found_html() -> str:
    return """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Event not found</title>
<link rel="stylesheet" href="/static/waitingroom/waiting.css"></head>
<body><main><h1>Event not found</h1>
<p>There is no event on sale at this address.</p></main></body>
</html>
"""


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
