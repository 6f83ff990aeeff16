"""The storefront: the home page, browse, search and event details, as JSON or as pages.

One handler per URL (`/`, `/events`, `/search`, `/events/{id}`) negotiates: browsers
(Accept lists text/html first) get the page, API clients the JSON document that
`api.fan.catalog` builds, and the page is rendered from that same document on the server,
so it works before any script runs; scripts add search as you type, countdowns and live
availability.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from api.fan import catalog
from api.fan.presale_http import presale_open_until
from api.fan.waitingroom_http import WAITING_ROOM_KEY
from api.http.appkeys import DB_ENGINE_KEY
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError
from api.http.openapi_spec import ok, operation, param
from api.http.params import path_id
from api.http.templates import not_found, render
from engine.store import storefront
from engine.store.waiting_list import offer_page_path

routes = web.RouteTableDef()

STATIC_DIR = Path(__file__).parent / "static" / "boxoffice"
"""The box office's shared styles and scripts, at /static/boxoffice/ (every page's)."""

FILTER_NAMES = ("category", "city", "from", "to", "max_price_cents", "available")
HOME_CATEGORIES = ("concert", "sports", "theatre", "comedy", "festival", "family")


def _home_json(home: storefront.HomeRows) -> dict[str, Any]:
    return {"on_sale_now": [catalog.listing_json(row) for row in home.on_sale_now],
            "on_sale_soon": [catalog.listing_json(row) for row in home.on_sale_soon],
            "categories": home.categories, "cities": home.cities}


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    """Anyone: on sale now, on sale soon, categories and cities (HTML for browsers)."""
    engine = request.app[DB_ENGINE_KEY]

    def read() -> storefront.HomeRows:
        with engine.connect() as conn:
            return storefront.home_rows(conn, datetime.now(UTC))

    document = _home_json(await asyncio.to_thread(read))
    if not catalog.prefers_html(request):
        return web.json_response(document, headers={"Cache-Control": "public, max-age=5"})
    return render(request, "fan/home.html", {"home": document})


def _filters(request: web.Request) -> dict[str, str]:
    return {name: request.query[name] for name in FILTER_NAMES if request.query.get(name)}


def _listing_page(request: web.Request, *, action: str, query: str | None,
                  events: list[dict[str, Any]], next_cursor: str | None,
                  error: str | None = None, status: int = 200) -> web.Response:
    next_url = None
    if next_cursor:
        params = {**_filters(request), **({"q": query} if query is not None else {}),
                  "cursor": next_cursor}
        next_url = f"{action}?{urlencode(params)}"
    return render(request, "fan/listing.html", {
        "action": action, "query": query, "events": events, "next_url": next_url,
        "filters": {name: request.query.get(name) for name in FILTER_NAMES},
        "categories": HOME_CATEGORIES, "error": error}, status)


async def browse_page(request: web.Request) -> web.Response:
    """The browse answer as a page; a bad filter is said on the page (400)."""
    try:
        document = await catalog.browse_document(request)
    except ApiError as error:
        return _listing_page(request, action="/events", query=None, events=[],
                             next_cursor=None, error=error.message, status=error.status)
    return _listing_page(request, action="/events", query=None, events=document["events"],
                         next_cursor=document["next_cursor"])


async def search_page(request: web.Request) -> web.Response:
    query = request.query.get("q", "")
    if not query.strip():
        return _listing_page(request, action="/search", query="", events=[], next_cursor=None)
    try:
        document = await catalog.search_document(request)
    except ApiError as error:
        return _listing_page(request, action="/search", query=query, events=[],
                             next_cursor=None, error=error.message, status=error.status)
    return _listing_page(request, action="/search", query=query, events=document["results"],
                         next_cursor=document["next_cursor"])


async def _has_waiting_room(request: web.Request, event_id: int) -> bool:
    room = request.app.get(WAITING_ROOM_KEY)
    return room is not None and await room.get_config(event_id) is not None


async def next_step(request: web.Request, event: dict[str, Any]) -> dict[str, str]:
    """What a fan can do now: join the line, choose seats, or why not."""
    event_id = event["event_id"]
    status = event["sale_status"]
    if status != "on_sale":
        return {"kind": status, "url": ""}
    if event["availability"]["status"] == "sold_out":
        return {"kind": "sold_out", "url": offer_page_path(event_id)}
    if await _has_waiting_room(request, event_id):
        line = {"kind": "line", "url": f"/events/{event_id}/waiting-room"}
        presale_ends = await presale_open_until(request, event_id)
        if presale_ends is not None:
            line["presale_until"] = presale_ends.isoformat()
        return line
    return {"kind": "book", "url": f"/events/{event_id}/book"}


async def event_page(request: web.Request, event_id: int) -> web.Response:
    try:
        event = await catalog.event_document(request, event_id)
    except ApiError as error:
        if error.status != 404:
            raise
        return not_found(request, "Event not found", "There is no event at this address.")
    return render(request, "fan/event.html", {"event": event,
                                          "next": await next_step(request, event)})


@routes.get("/events")
async def browse_events(request: web.Request) -> web.Response:
    """Anyone: published events, filtered, sorted, one page at a time (cursor); browsers
    get the browse page."""
    if catalog.prefers_html(request):
        return await browse_page(request)
    return web.json_response(await catalog.browse_document(request))


@routes.get("/search")
async def search_events(request: web.Request) -> web.Response:
    """Anyone: published events matching every word (as a prefix), ranked, with highlights;
    browsers get the results page."""
    if catalog.prefers_html(request):
        return await search_page(request)
    return web.json_response(await catalog.search_document(request))


@routes.get("/events/{event_id}")
async def event_details(request: web.Request) -> web.Response:
    """Anyone (drafts: their organizer or ops): details with per-section availability;
    browsers get the event page (details, live availability, the next step)."""
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    if catalog.prefers_html(request):
        return await event_page(request, event_id)
    return web.json_response(await catalog.event_document(request, event_id))


OPENAPI_SCHEMAS = catalog.OPENAPI_SCHEMAS
OPENAPI_PATHS: dict[str, Any] = {
    **catalog.OPENAPI_PATHS,
    "/static/boxoffice/{name}": {"get": operation(
        "The box office pages' styles and scripts", who="anyone", tags=["Storefront"],
        errors=(ApiErrorCode.NOT_FOUND,), parameters=[param("name", "path", {"type": "string"},
                                         "A file of api/fan/static/boxoffice/.")],
        responses={200: ok({"type": "string"}, "The file.", content_type="text/plain")})},
    "/": {"get": operation(
        "The home page: on sale now, on sale soon, categories, cities", who="anyone",
        tags=["Storefront"],
        description="Browsers (Accept: text/html first) get the page; others JSON.",
        responses={200: ok({"type": "object", "properties": {
            "on_sale_now": {"type": "array"}, "on_sale_soon": {"type": "array"},
            "categories": {"type": "array"}, "cities": {"type": "array"}}})})},
}
