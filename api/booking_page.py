"""The seat-selection page for admitted fans: plain HTML, an SVG seat map, no build step.

The page is a client of the public JSON API: it draws `GET /events/{id}/seats`
as SVG, keeps it live with the availability stream (SSE), lets the fan click
seats or ask for the best available (or a general-admission quantity), then
reserves, shows the hold with its countdown, and checks out. The session token
is shared with the waiting page (localStorage `onsale.sessionToken`), the
admission token comes from the waiting page (sessionStorage
`onsale.admission.<event_id>`) and travels as `X-Admission-Token`.
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
from api.openapi_spec import ID_SCHEMA, ok, operation, param
from api.params import ascii_id

routes = web.RouteTableDef()

STATIC_DIR = Path(__file__).parent / "static" / "booking"
STATIC_FILES = ("book.js", "book.css")
STATIC_MAX_AGE_SECONDS = 300
SESSION_STORAGE_KEY = "onsale.sessionToken"
ADMISSION_STORAGE_PREFIX = "onsale.admission."


def _lookup(engine: sa.Engine, event_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT e.name, e.starts_at, e.buyer_limit, e.currency, v.name AS venue, v.city"
            " FROM events e JOIN venues v ON v.id = e.venue_id"
            " WHERE e.id = :id AND e.status = 'published'"), {"id": event_id}).first()
    return dict(row._mapping) if row else None


def _page(event_id: int, event: dict[str, Any]) -> str:
    name = html.escape(event["name"])
    where = html.escape(f"{event['venue']}, {event['city']}")
    when = event["starts_at"].isoformat()
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Choose seats: {name}</title>
<link rel="stylesheet" href="/static/booking/book.css">
<script src="/static/booking/book.js" defer></script>
</head>
<body>
<main id="booking" data-event-id="{event_id}" data-buyer-limit="{event['buyer_limit']}"
      data-currency="{html.escape(event['currency'])}" data-session-key="{SESSION_STORAGE_KEY}"
      data-admission-prefix="{ADMISSION_STORAGE_PREFIX}">
  <header>
    <p class="kicker">Choose your seats</p>
    <h1>{name}</h1>
    <p class="where">{where} &middot; <time datetime="{when}">{html.escape(when[:16])}</time></p>
  </header>
  <p id="message" role="status" aria-live="polite"></p>
  <section id="sign-in" hidden>
    <h2>Sign in to book</h2>
    <form id="sign-in-form">
      <label>Email <input name="email" type="email" autocomplete="username" required></label>
      <label>Password <input name="password" type="password" autocomplete="current-password"
             required></label>
      <button type="submit">Sign in</button>
    </form>
  </section>
  <div class="layout">
    <section id="map-panel" aria-label="Seat map">
      <div id="legend"></div>
      <svg id="seat-map" viewBox="0 0 1000 1000" role="img" aria-label="Seat map"></svg>
      <p id="hover-info" class="muted">Click a free seat to select it.</p>
    </section>
    <aside id="side">
      <section id="selection">
        <h2>Your selection</h2>
        <ul id="selected-list"></ul>
        <p>Total: <strong id="selected-total">&ndash;</strong></p>
        <button id="reserve-selected" disabled>Reserve selected seats</button>
      </section>
      <section id="best-available">
        <h2>Best available</h2>
        <label>Seats <input id="best-quantity" type="number" min="1" value="2"></label>
        <label>Section <select id="best-section"><option value="">Any</option></select></label>
        <button id="reserve-best">Find seats</button>
      </section>
      <section id="ga-zones" hidden>
        <h2>Standing</h2>
        <ul id="ga-list"></ul>
      </section>
      <section id="hold" hidden>
        <h2>Your seats are held</h2>
        <ul id="hold-seats"></ul>
        <p>Total: <strong id="hold-total"></strong></p>
        <p>Held for <strong id="hold-countdown"></strong></p>
        <form id="checkout-form">
          <label>Card number <input id="card-number" inputmode="numeric"
                 autocomplete="cc-number" placeholder="4242 4242 4242 4242" required></label>
          <button type="submit" id="pay">Pay</button>
        </form>
        <button id="release-hold" class="secondary">Release these seats</button>
      </section>
      <section id="order" hidden>
        <h2>Order <span id="order-status"></span></h2>
        <ul id="tickets"></ul>
      </section>
    </aside>
  </div>
</main>
</body>
</html>"""


def _not_found() -> str:
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not on sale"
            "</title></head><body><main><h1>This event is not on sale</h1>"
            "<p><a href=\"/events\">Browse events</a></p></main></body></html>")


@routes.get("/events/{event_id}/book")
async def booking_page(request: web.Request) -> web.Response:
    """Anyone (the page signs the fan in; booking needs admission): the seat-selection page."""
    raw = request.match_info["event_id"]
    event_id = ascii_id(raw)
    event = None
    if event_id is not None:
        event = await asyncio.to_thread(_lookup, request.app[DB_ENGINE_KEY], event_id)
    if event_id is None or event is None:
        return page_not_found(request, _not_found(), "event", {"event_id": raw})
    return web.Response(text=_page(event_id, event), content_type="text/html",
                        headers={"Cache-Control": "no-cache"})


@routes.get("/static/booking/{name}")
async def booking_asset(request: web.Request) -> web.StreamResponse:
    """Anyone: the seat-selection page's script and stylesheet."""
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return web.FileResponse(STATIC_DIR / name, headers={
        "Cache-Control": f"public, max-age={STATIC_MAX_AGE_SECONDS}",
        "Content-Type": f"{content_type}; charset=utf-8"})


OPENAPI_PATHS: dict[str, Any] = {
    "/events/{event_id}/book": {"get": operation(
        "Seat-selection page (HTML)", who="anyone; booking from it needs sign-in and admission",
        tags=["Fan pages"], errors=(),
        parameters=[param("event_id", "path", ID_SCHEMA, "A published event.")],
        responses={200: ok({"type": "string"}, "HTML.", content_type="text/html"),
                   404: ok({"type": "string"}, "Not on sale (HTML).",
                           content_type="text/html")})},
    "/static/booking/{name}": {"get": operation(
        "The seat-selection page's assets", who="anyone", tags=["Fan pages"], errors=(404,),
        parameters=[param("name", "path", {"type": "string", "enum": list(STATIC_FILES)},
                          "book.js or book.css")],
        responses={200: ok({"type": "string"}, "The file.", content_type="text/plain")})},
}
