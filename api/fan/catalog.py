"""Browse, search and event details: the public face of the catalog, as the JSON
documents `api.fan.storefront` answers at `/events`, `/search` and `/events/{id}` (or
renders as pages for browsers).

Browse and search read the `event_listings` read model (one indexed query per
page); details add the venue, performers, price tiers and per-section
availability from the live seat-map cache, so a rush on one event costs the
database nothing per page view.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from api.fan.identity import optional_principal
from api.fan.presale_http import visible_tiers
from api.fan.sale_status import SALE_STATUS_KEY, SaleStatusCache, SaleWindow
from api.fan.seatmap_cache import SEATMAP_CACHE_KEY, EventNotFound, SeatMapCache
from api.http.appkeys import DB_ENGINE_KEY, READ_ENGINE_KEY, REDIS_KEY, SETTINGS_KEY
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError
from api.http.openapi_spec import DATETIME_SCHEMA, ID_SCHEMA, ok, operation, param, ref
from api.http.params import (
    decode_cursor,
    encode_cursor,
    invalid,
    query_bool,
    query_choice,
    query_datetime,
    query_int,
    query_text,
)
from api.organizer.ownership import may_see_drafts
from engine.store import listings
from workers.keys import Keys

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_PRICE_CENTS = 100_000_000
LIMITED_TICKETS = 50
SEARCH_MAX_QUERY_CHARS = 120
CATEGORIES_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"


async def catalog_ctx(app: web.Application) -> AsyncIterator[None]:
    """The live seat-map cache (with its stream follower) and the on-sale check's cache."""
    cache = SeatMapCache(app[DB_ENGINE_KEY], app[REDIS_KEY], Keys(app[SETTINGS_KEY].redis_prefix))
    app[SEATMAP_CACHE_KEY] = cache
    app[SALE_STATUS_KEY] = SaleStatusCache()
    await cache.start()
    yield
    await cache.stop()


# ---------------------------------------------------------------- shapes


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def availability_json(tickets_left: int, capacity: int) -> dict[str, Any]:
    left = max(0, int(tickets_left))
    if left == 0:
        status = "sold_out"
    elif left <= max(LIMITED_TICKETS, capacity // 20):
        status = "limited"
    else:
        status = "available"
    return {"tickets_left": left, "status": status}


def listing_json(row: dict[str, Any]) -> dict[str, Any]:
    event_id = row["event_id"]
    return {
        "event_id": event_id,
        "name": row["name"],
        "category": row["category"],
        "status": row["status"],
        "starts_at": _iso(row["starts_at"]),
        "onsale_at": _iso(row["onsale_at"]),
        "venue": {"venue_id": row["venue_id"], "name": row["venue_name"], "city": row["city"],
                  "country": row["country"]},
        "performers": [{"performer_id": performer_id, "name": name} for performer_id, name
                       in zip(row["performer_ids"], row["performer_names"], strict=False)],
        "price_range": {"currency": row["currency"], "min_cents": row["min_price_cents"],
                        "max_cents": row["max_price_cents"]},
        "availability": availability_json(row["tickets_left"], row["capacity"]),
        "url": f"/events/{event_id}",
    }


# ---------------------------------------------------------------- browse


def _browse_filter(request: web.Request) -> listings.BrowseFilter:
    now = datetime.now(UTC)
    starts_after = query_datetime(request, "from") or now
    starts_before = query_datetime(request, "to", end_of_day=True)
    if starts_before is not None and starts_before <= starts_after:
        invalid("to", "must be after `from` (and after now when `from` is not given)")
    category = query_text(request, "category", max_chars=32)
    if category is not None and not re.match(CATEGORIES_PATTERN, category):
        invalid("category", "must be a lowercase category name such as concert")
    min_price = query_int(request, "min_price_cents", low=0, high=MAX_PRICE_CENTS)
    max_price = query_int(request, "max_price_cents", low=0, high=MAX_PRICE_CENTS)
    if min_price is not None and max_price is not None and max_price < min_price:
        invalid("max_price_cents", "must not be below min_price_cents")
    return listings.BrowseFilter(
        starts_after=starts_after, starts_before=starts_before, category=category,
        city=query_text(request, "city", max_chars=120),
        min_price_cents=min_price, max_price_cents=max_price,
        available=query_bool(request, "available"))


def _performer_filter(request: web.Request) -> tuple[int | None, str | None]:
    performer_id = query_int(request, "performer_id", low=1, high=2**62)
    name = query_text(request, "performer", max_chars=120)
    if performer_id is not None and name is not None:
        invalid("performer", "give performer or performer_id, not both")
    return performer_id, name


def _keyset(request: web.Request, sort: str) -> tuple[Any, int] | None:
    cursor = decode_cursor(request)
    if cursor is None:
        return None
    if len(cursor) != 3 or cursor[0] != sort or not isinstance(cursor[2], int):
        invalid("cursor", "does not belong to this sort order; start again without it")
    key = cursor[1]
    if sort.lstrip("-") == "starts_at":
        try:
            key = datetime.fromisoformat(str(key))
        except ValueError:
            invalid("cursor", "is not a cursor this API returned")
    elif not isinstance(key, int):
        invalid("cursor", "is not a cursor this API returned")
    return key, cursor[2]


async def browse_document(request: web.Request) -> dict[str, Any]:
    """Anyone: published events, filtered, sorted, one page at a time (cursor)."""
    sort = query_choice(request, "sort", tuple(listings.SORTS), "starts_at")
    limit = query_int(request, "limit", low=1, high=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE)
    assert limit is not None
    after = _keyset(request, sort)
    performer_id, performer_name = _performer_filter(request)
    flt = _browse_filter(request)
    engine = request.app[READ_ENGINE_KEY]  # a replica may answer: nothing here decides a sale

    def read() -> listings.Page:
        with engine.connect() as conn:
            performers = flt.performer_ids
            if performer_id is not None:
                performers = (performer_id,)
            elif performer_name is not None:
                performers = listings.performer_ids_named(conn, performer_name)
                if not performers:
                    return listings.Page([], None)
            return listings.browse(conn, replace(flt, performer_ids=performers), sort=sort,
                                   limit=limit, after=after)

    page = await asyncio.to_thread(read)
    next_cursor = None
    if page.next_key is not None:
        key, last_id = page.next_key
        next_cursor = encode_cursor([sort, key.isoformat() if isinstance(key, datetime) else key,
                                     last_id])
    return {"events": [listing_json(row) for row in page.rows], "next_cursor": next_cursor}


# ---------------------------------------------------------------- search


def term_pattern(terms: list[str]) -> re.Pattern[str] | None:
    """Matches a word start followed by any term (longest first), ignoring case."""
    if not terms:
        return None
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(r"(?<![^\W_])(" + alternatives + ")", re.IGNORECASE)


def highlight(value: str, terms: list[str] | re.Pattern[str] | None) -> str | None:
    """`value` as HTML with each word that starts with a term wrapped in <mark>, or None."""
    pattern = term_pattern(terms) if isinstance(terms, list) else terms
    if pattern is None or not value:
        return None
    pieces: list[str] = []
    position = 0
    for match in pattern.finditer(value):
        pieces.append(html.escape(value[position:match.start()]))
        pieces.append(f"<mark>{html.escape(match.group(0))}</mark>")
        position = match.end()
    if not pieces:
        return None
    pieces.append(html.escape(value[position:]))
    return "".join(pieces)


def _highlights(row: dict[str, Any], pattern: re.Pattern[str] | None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for field, value in (("name", row["name"]), ("venue", row["venue_name"]),
                         ("city", row["city"])):
        marked = highlight(value, pattern)
        if marked is not None:
            found[field] = marked
    performers = [marked for name in row["performer_names"]
                  if (marked := highlight(name, pattern)) is not None]
    if performers:
        found["performers"] = performers
    return found


async def search_document(request: web.Request) -> dict[str, Any]:
    """The search answer for the request's `q`, filters and cursor."""
    query = request.query.get("q")
    if query is None:
        invalid("q", "is required")
    if len(query) > SEARCH_MAX_QUERY_CHARS:
        invalid("q", f"must be at most {SEARCH_MAX_QUERY_CHARS} characters")
    if "\x00" in query:  # Postgres text cannot hold NUL
        invalid("q", "must not contain NUL characters")
    limit = query_int(request, "limit", low=1, high=50, default=DEFAULT_PAGE_SIZE)
    assert limit is not None
    cursor = decode_cursor(request)
    offset = 0
    if cursor is not None:
        if len(cursor) != 2 or cursor[0] != "offset" or not isinstance(cursor[1], int) \
                or not 0 < cursor[1] < listings.SEARCH_CANDIDATES:
            invalid("cursor", "is not a cursor this API returned")
        offset = cursor[1]
    terms = listings.search_terms(query)
    engine = request.app[READ_ENGINE_KEY]  # a replica may answer: nothing here decides a sale
    flt = _browse_filter(request)

    def read() -> list[dict[str, Any]]:
        with engine.connect() as conn:
            return listings.search(conn, query, flt, limit=limit, offset=offset)

    rows = await asyncio.to_thread(read) if terms else []
    results = []
    pattern = term_pattern(terms)
    for row in rows:
        item = listing_json(row)
        item["rank"] = round(float(row["rank"]), 6)
        item["highlights"] = _highlights(row, pattern)
        results.append(item)
    more = len(rows) == limit and offset + limit < listings.SEARCH_CANDIDATES
    return {"query": query, "terms": terms, "results": results,
            "next_cursor": encode_cursor(["offset", offset + limit]) if more else None}


# ---------------------------------------------------------------- details

_DETAILS = sa.text("""
    SELECT e.id, e.name, e.description, e.category, e.status, e.starts_at, e.onsale_at,
           e.currency, e.buyer_limit, e.hold_ttl_seconds, e.organizer_id, o.name AS organizer,
           v.id AS venue_id, v.name AS venue_name, v.city, v.country, v.capacity
    FROM events e JOIN venues v ON v.id = e.venue_id JOIN organizers o ON o.id = e.organizer_id
    WHERE e.id = :id""")
_PERFORMERS = sa.text("""
    SELECT p.id, p.name, p.kind FROM event_performers ep JOIN performers p ON p.id = ep.performer_id
    WHERE ep.event_id = :id ORDER BY ep.billing_order, p.id""")
_TIERS = sa.text("""
    SELECT code, name, category, price_cents FROM price_tiers WHERE event_id = :id
    ORDER BY price_cents DESC, code""")


def prefers_html(request: web.Request) -> bool:
    """A browser asking for a page (Accept lists text/html before any JSON)."""
    accept = request.headers.get("Accept", "")
    html_at = accept.find("text/html")
    json_at = accept.find("application/json")
    return html_at >= 0 and (json_at < 0 or html_at < json_at)


def read_details(engine: sa.Engine, event_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        event = conn.execute(_DETAILS, {"id": event_id}).first()
        if event is None:
            return None
        performers = conn.execute(_PERFORMERS, {"id": event_id}).all()
        tiers = conn.execute(_TIERS, {"id": event_id}).all()
    return {
        "event_id": event.id,
        "name": event.name,
        "description": event.description,
        "category": event.category,
        "status": event.status,
        "starts_at": _iso(event.starts_at),
        "onsale_at": _iso(event.onsale_at),
        "currency": event.currency,
        "buyer_limit": event.buyer_limit,
        "hold_ttl_seconds": event.hold_ttl_seconds,
        "organizer": {"organizer_id": event.organizer_id, "name": event.organizer},
        "venue": {"venue_id": event.venue_id, "name": event.venue_name, "city": event.city,
                  "country": event.country, "capacity": event.capacity},
        "performers": [{"performer_id": p.id, "name": p.name, "kind": p.kind}
                       for p in performers],
        "price_tiers": [{"code": t.code, "name": t.name, "category": t.category,
                         "price_cents": t.price_cents} for t in tiers],
        "_window": SaleWindow(event.status, event.onsale_at, event.starts_at),
    }


async def event_document(request: web.Request, event_id: int) -> dict[str, Any]:
    """The event's details with per-section availability; 404 `event_not_found` for an
    event the caller may not see."""
    details = await asyncio.to_thread(read_details, request.app[DB_ENGINE_KEY], event_id)
    if details is None:
        raise ApiError(ApiErrorCode.EVENT_NOT_FOUND, "No such event.", {"event_id": event_id})
    manager = await may_see_drafts(
        request, await optional_principal(request), details["organizer"]["organizer_id"])
    if details["status"] == "draft" and not manager:
        raise ApiError(ApiErrorCode.EVENT_NOT_FOUND, "No such event.", {"event_id": event_id})
    if not manager:  # the event's organizer (and ops) see every tier, presale tiers too
        details["price_tiers"] = await visible_tiers(request, event_id, details["price_tiers"])
    window: SaleWindow = details.pop("_window")
    refusal = window.refusal(datetime.now(UTC))
    details["on_sale"] = refusal is None
    details["sale_status"] = "on_sale" if refusal is None else refusal[0]
    try:
        seat_map = await request.app[SEATMAP_CACHE_KEY].get(event_id)
    except EventNotFound:
        raise ApiError(ApiErrorCode.EVENT_NOT_FOUND,
                       "No such event.", {"event_id": event_id}) from None
    sections = seat_map.section_availability()
    left = sum(section["available"] for section in sections)
    details["availability"] = {
        **availability_json(left, details["venue"]["capacity"]),
        "version": seat_map.version,
        "sections": sections,
    }
    details["links"] = {
        "seats": f"/events/{event_id}/seats",
        "availability_stream": f"/events/{event_id}/availability/stream",
        "book": f"/events/{event_id}/book",
        "reservations": f"/events/{event_id}/reservations",
    }
    return details


# ---------------------------------------------------------------- OpenAPI

_BROWSE_FILTERS = [
    param("category", "query", {"type": "string", "pattern": CATEGORIES_PATTERN},
          "Only this category (concert, sports, theatre, comedy, ...)."),
    param("city", "query", {"type": "string", "minLength": 1, "maxLength": 120},
          "Only events in this city (case-insensitive)."),
    param("from", "query", {"type": "string"},
          "Starting at or after this date (YYYY-MM-DD) or date-time; default now."),
    param("to", "query", {"type": "string"},
          "Starting before this date-time, or before the end of this date."),
    param("min_price_cents", "query", {"type": "integer", "minimum": 0,
                                       "maximum": MAX_PRICE_CENTS},
          "Only events with a ticket at or above this price."),
    param("max_price_cents", "query", {"type": "integer", "minimum": 0,
                                       "maximum": MAX_PRICE_CENTS},
          "Only events with a ticket at or below this price."),
    param("available", "query", {"type": "boolean"},
          "true: only events with tickets left; false: only sold-out events."),
]

OPENAPI_SCHEMAS: dict[str, Any] = {
    "EventListing": {
        "type": "object",
        "required": ["event_id", "name", "category", "status", "starts_at", "venue",
                     "performers", "price_range", "availability"],
        "properties": {
            "event_id": {"type": "integer"}, "name": {"type": "string"},
            "category": {"type": "string"},
            "status": {"type": "string", "enum": ["draft", "published", "cancelled"]},
            "starts_at": DATETIME_SCHEMA, "onsale_at": DATETIME_SCHEMA,
            "venue": {"type": "object"}, "performers": {"type": "array"},
            "price_range": {"type": "object"}, "availability": ref("Availability"),
            "url": {"type": "string"},
        },
    },
    "Availability": {
        "type": "object",
        "properties": {"tickets_left": {"type": "integer"},
                       "status": {"type": "string",
                                  "enum": ["available", "limited", "sold_out"]}},
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/events": {"get": operation(
        "Browse events", who="anyone", tags=["Catalog"], errors=(ApiErrorCode.INVALID_REQUEST,),
        description="Keyset pagination: pass `next_cursor` back as `cursor` with the same "
                    "filters and sort.",
        parameters=[
            *_BROWSE_FILTERS,
            param("performer", "query", {"type": "string", "minLength": 1, "maxLength": 120},
                  "Only events with a performer of this name (case-insensitive)."),
            param("performer_id", "query", ID_SCHEMA, "Only events with this performer."),
            param("sort", "query", {"type": "string", "enum": list(listings.SORTS)},
                  "Order: soonest first (default), latest first, cheapest, dearest."),
            param("limit", "query", {"type": "integer", "minimum": 1,
                                     "maximum": MAX_PAGE_SIZE}, "Page size (default 20)."),
            param("cursor", "query", {"type": "string"}, "`next_cursor` of the previous page."),
        ],
        responses={200: ok({"type": "object", "properties": {
            "events": {"type": "array", "items": ref("EventListing")},
            "next_cursor": {"type": ["string", "null"]}}})})},
    "/search": {"get": operation(
        "Search events", who="anyone", tags=["Catalog"], errors=(ApiErrorCode.INVALID_REQUEST,),
        description="Postgres full-text search over event name, performers, venue and city. "
                    "Every word matches as a prefix, so results follow typing; names with "
                    "punctuation (`AC/DC`, `blink-182`) are found as written or with spaces "
                    "(`ac dc`). Results are "
                    f"ranked among the {listings.SEARCH_CANDIDATES} soonest matches; "
                    "`highlights` holds HTML with `<mark>` around matched words.",
        parameters=[
            param("q", "query", {"type": "string", "maxLength": SEARCH_MAX_QUERY_CHARS},
                  "What the fan typed.", required=True),
            *_BROWSE_FILTERS,
            param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 50},
                  "Page size (default 20)."),
            param("cursor", "query", {"type": "string"}, "`next_cursor` of the previous page."),
        ],
        responses={200: ok({"type": "object", "properties": {
            "query": {"type": "string"}, "terms": {"type": "array"},
            "results": {"type": "array", "items": ref("EventListing")},
            "next_cursor": {"type": ["string", "null"]}}})})},
    "/events/{event_id}": {"get": operation(
        "Event details", who="anyone; drafts only their organizer or ops", tags=["Catalog"],
        errors=(ApiErrorCode.UNAUTHORIZED, ApiErrorCode.EVENT_NOT_FOUND),
        description="With the venue, performers, price tiers and availability per section "
                    "(from the live seat-map cache). A browser asking for text/html gets the "
                    "event's fan page instead.",
        parameters=[param("event_id", "path", ID_SCHEMA, "The event.")],
        responses={200: ok({"type": "object"}, "The event.")})},
}
