"""Organizers' events: created as drafts, then published or cancelled; their own list.

An organizer manages only their own events; ops manage all. Publishing puts an
event in the catalog (and lets the partition consumer load it); once published,
what the inventory depends on (venue, price tiers, buyer limit, currency, hold
time) is fixed, because a loaded inventory and the holds already granted were
priced by it. Cancelling stops sales at once: the booking endpoints ask
`api.fan.sale_status.ensure_on_sale`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from api.fan.catalog import read_details
from api.fan.identity import Principal, require_principal
from api.fan.sale_status import SALE_STATUS_KEY
from api.fan.seatmap_cache import SEATMAP_CACHE_KEY
from api.http.appkeys import DB_ENGINE_KEY, SETTINGS_KEY
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError, read_json
from api.http.openapi_spec import ID_SCHEMA, json_body, ok, operation, param
from api.http.params import decode_cursor, encode_cursor, invalid, path_id, query_int
from api.organizer.organizer_fields import (
    EVENT_FIELDS,
    EVENT_ID_PARAM,
    FIELD_SCHEMAS,
    LOCKED_WHEN_PUBLISHED,
    SIGNED_IN_ORGANIZERS,
    event_fields,
    store_error,
)
from api.organizer.ownership import acting_organizer, ensure_manages, organizer_of
from engine.errors import BookingError
from engine.pricing import PriceTier
from engine.store import catalog

routes = web.RouteTableDef()

# ---------------------------------------------------------------- events


def _performer_ids(conn: sa.Connection, performers: list[dict[str, Any]]) -> list[int]:
    ids: list[int] = []
    for index, performer in enumerate(performers):
        if "performer_id" in performer:
            known = conn.execute(sa.text("SELECT id FROM performers WHERE id = :id"),
                                 {"id": performer["performer_id"]}).scalar()
            if known is None:
                invalid(f"performers[{index}].performer_id", "no such performer")
            ids.append(int(known))
            continue
        existing = conn.execute(sa.text(
            "SELECT id FROM performers WHERE lower(name) = lower(:name) ORDER BY id LIMIT 1"),
            {"name": performer["name"]}).scalar()
        ids.append(int(existing) if existing is not None else catalog.create_performer(
            conn, performer["name"], performer.get("kind", "artist")))
    if len(set(ids)) != len(ids):
        invalid("performers", "lists a performer twice")
    return ids


def _tiers(fields: dict[str, Any]) -> list[PriceTier]:
    return [PriceTier(t["code"], t["name"], t["category"], t["price_cents"])
            for t in fields["price_tiers"]]


def _owned_venue(conn: sa.Connection, venue_id: int, principal: Principal,
                 organizer_id: int | None) -> int | None:
    """The venue's organizer (None: a shared venue), checking the caller may use it.

    Venues that ops created without an organizer are shared: any organizer may
    put events on them. An organizer's own venues are theirs alone.
    """
    row = conn.execute(sa.text("SELECT organizer_id FROM venues WHERE id = :id"),
                       {"id": venue_id}).first()
    if row is None:
        invalid("venue_id", "no such venue")
    if principal.role != "ops" and row.organizer_id not in (None, organizer_id):
        raise ApiError(ApiErrorCode.FORBIDDEN,
                       "You can only put events on your own or shared venues.",
                       {"field": "venue_id", "reason": "not_owner"})
    owner: int | None = row.organizer_id
    return owner


@routes.post("/events")
async def create_event(request: web.Request) -> web.Response:
    """Organizers (on their own or shared venues) and ops: create a draft event."""
    principal = await require_principal(request, "organizer", "ops")
    fields = event_fields(await read_json(request), partial=False)
    if principal.role == "organizer":
        organizer_id: int | None = await acting_organizer(request, principal)
    else:
        organizer_id = query_int(request, "organizer_id", low=1, high=2**62)
    engine = request.app[DB_ENGINE_KEY]

    def create() -> int:
        with engine.begin() as conn:
            owner = _owned_venue(conn, fields["venue_id"], principal, organizer_id)
            if principal.role == "ops" and organizer_id is not None:
                if owner not in (None, organizer_id):
                    invalid("organizer_id", "the venue belongs to another organizer")
                if conn.execute(sa.text("SELECT 1 FROM organizers WHERE id = :id"),
                                {"id": organizer_id}).first() is None:
                    invalid("organizer_id", "no such organizer")
            owner = owner if owner is not None else organizer_id
            if owner is None:
                invalid("organizer_id", "a shared venue: say which organizer the event is for")
            return catalog.create_event(
                conn, organizer_id=owner, venue_id=fields["venue_id"], name=fields["name"],
                category=fields["category"], starts_at=fields["starts_at"],
                onsale_at=fields["onsale_at"], price_tiers=_tiers(fields),
                description=fields.get("description", ""),
                performer_ids=_performer_ids(conn, fields.get("performers", [])),
                currency=fields.get("currency", "EUR"),
                buyer_limit=fields.get("buyer_limit", 8),
                hold_ttl_seconds=fields.get(
                    "hold_ttl_seconds", int(request.app[SETTINGS_KEY].hold_ttl_seconds)))

    try:
        event_id = await asyncio.to_thread(create)
    except BookingError as error:
        raise store_error(error, "Invalid event") from None
    details = await asyncio.to_thread(read_details, engine, event_id)
    assert details is not None
    details.pop("_window")
    return web.json_response(details, status=201, headers={"Location": f"/events/{event_id}"})


def _locked_event(conn: sa.Connection, event_id: int) -> Any:
    row = conn.execute(sa.text(
        "SELECT id, organizer_id, venue_id, status, onsale_at, starts_at FROM events"
        " WHERE id = :id FOR UPDATE"), {"id": event_id}).first()
    if row is None:
        raise ApiError(ApiErrorCode.EVENT_NOT_FOUND, "No such event.", {"event_id": event_id})
    return row


async def managed_event(request: web.Request, principal: Principal, event_id: int) -> Any:
    engine = request.app[DB_ENGINE_KEY]

    def read() -> Any:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT organizer_id, status FROM events WHERE id = :id"),
                                {"id": event_id}).first()

    row = await asyncio.to_thread(read)
    if row is None:
        raise ApiError(ApiErrorCode.EVENT_NOT_FOUND, "No such event.", {"event_id": event_id})
    try:
        await ensure_manages(request, principal, row.organizer_id, "event")
    except ApiError:
        if row.status == "draft":  # someone else's draft does not exist for you
            raise ApiError(ApiErrorCode.EVENT_NOT_FOUND, "No such event.",
                           {"event_id": event_id}) from None
        raise
    return row


def _apply_update(conn: sa.Connection, event_id: int, fields: dict[str, Any],
                  principal: Principal, organizer_id: int | None) -> None:
    event = _locked_event(conn, event_id)
    if event.status == "cancelled":
        raise ApiError(ApiErrorCode.EVENT_CANCELLED, "A cancelled event cannot change.",
                       {"event_id": event_id})
    now = datetime.now(UTC)
    if event.status == "published":
        for name in LOCKED_WHEN_PUBLISHED:
            if name in fields:
                raise ApiError(ApiErrorCode.EVENT_LOCKED,
                               f"{name}: fixed once the event is published",
                               {"field": name, "reason": "fixed once published"})
        if "onsale_at" in fields and event.onsale_at <= now:
            raise ApiError(ApiErrorCode.EVENT_LOCKED, "onsale_at: the sale has already started",
                           {"field": "onsale_at", "reason": "the sale has started"})
    starts_at = fields.get("starts_at", event.starts_at)
    onsale_at = fields.get("onsale_at", event.onsale_at)
    if onsale_at > starts_at:
        invalid("onsale_at", "must not be after starts_at")
    columns: dict[str, Any] = {name: fields[name] for name in
               ("name", "description", "category", "starts_at", "onsale_at", "currency",
                "buyer_limit", "hold_ttl_seconds", "venue_id") if name in fields}
    if "venue_id" in fields and fields["venue_id"] != event.venue_id:
        _owned_venue(conn, fields["venue_id"], principal, organizer_id)
        conn.execute(sa.text("DELETE FROM ga_inventory WHERE event_id = :id"), {"id": event_id})
    if columns:
        assignments = ", ".join(f"{name} = :{name}" for name in columns)
        conn.execute(sa.text(f"UPDATE events SET {assignments}, updated_at = now()"
                             " WHERE id = :event_id"), {**columns, "event_id": event_id})
    if "venue_id" in fields and fields["venue_id"] != event.venue_id:
        conn.execute(sa.text(
            "INSERT INTO ga_inventory (event_id, zone_id, capacity)"
            " SELECT :event_id, id, capacity FROM ga_zones WHERE venue_id = :venue_id"),
            {"event_id": event_id, "venue_id": fields["venue_id"]})
    if "price_tiers" in fields:
        conn.execute(sa.text("DELETE FROM price_tiers WHERE event_id = :id"), {"id": event_id})
        conn.execute(sa.text(
            "INSERT INTO price_tiers (event_id, code, name, category, price_cents)"
            " VALUES (:event_id, :code, :name, :category, :price_cents)"),
            [{"event_id": event_id, **tier} for tier in fields["price_tiers"]])
    if "price_tiers" in fields or "venue_id" in fields:
        venue_id = fields.get("venue_id", event.venue_id)
        known = catalog.venue_categories(conn, venue_id)
        tiers = conn.execute(sa.text("SELECT category FROM price_tiers WHERE event_id = :id"),
                             {"id": event_id}).scalars().all()
        if not known.intersection(tiers):
            invalid("price_tiers", f"price none of this venue's categories "
                                   f"({', '.join(sorted(known))})")
    if "performers" in fields:
        ids = _performer_ids(conn, fields["performers"])
        conn.execute(sa.text("DELETE FROM event_performers WHERE event_id = :id"),
                     {"id": event_id})
        if ids:
            conn.execute(sa.text(
                "INSERT INTO event_performers (event_id, performer_id, billing_order)"
                " VALUES (:event_id, :performer_id, :billing_order)"),
                [{"event_id": event_id, "performer_id": performer_id, "billing_order": order}
                 for order, performer_id in enumerate(ids)])


def _forget(request: web.Request, event_id: int) -> None:
    request.app[SALE_STATUS_KEY].forget(event_id)
    request.app[SEATMAP_CACHE_KEY].forget(event_id)


async def _details(request: web.Request, event_id: int) -> dict[str, Any]:
    details = await asyncio.to_thread(read_details, request.app[DB_ENGINE_KEY], event_id)
    if details is None:
        raise ApiError(ApiErrorCode.EVENT_NOT_FOUND, "No such event.", {"event_id": event_id})
    details.pop("_window")
    return details


@routes.patch("/events/{event_id}")
async def update_event(request: web.Request) -> web.Response:
    """The event's organizer and ops: change a draft freely, a published one's descriptions."""
    principal = await require_principal(request, "organizer", "ops")
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    fields = event_fields(await read_json(request), partial=True)
    await managed_event(request, principal, event_id)
    organizer_id = await organizer_of(request, principal)
    engine = request.app[DB_ENGINE_KEY]

    def update() -> None:
        with engine.begin() as conn:
            _apply_update(conn, event_id, fields, principal, organizer_id)

    try:
        await asyncio.to_thread(update)
    except BookingError as error:
        raise store_error(error, "Invalid event") from None
    _forget(request, event_id)
    return web.json_response(await _details(request, event_id))


@routes.post("/events/{event_id}/publish")
async def publish_event(request: web.Request) -> web.Response:
    """The event's organizer and ops: put a draft on the catalog (and on sale at onsale_at)."""
    principal = await require_principal(request, "organizer", "ops")
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    await managed_event(request, principal, event_id)
    engine = request.app[DB_ENGINE_KEY]

    def publish() -> None:
        with engine.begin() as conn:
            event = _locked_event(conn, event_id)
            if event.status == "published":
                return
            if event.status == "cancelled":
                raise ApiError(ApiErrorCode.EVENT_CANCELLED,
                               "A cancelled event cannot be published.",
                               {"event_id": event_id})
            if event.starts_at <= datetime.now(UTC):
                raise ApiError(ApiErrorCode.EVENT_IN_PAST,
                               "starts_at is in the past; move it first.",
                               {"field": "starts_at", "reason": "in the past"})
            conn.execute(sa.text("UPDATE events SET status = 'published', updated_at = now()"
                                 " WHERE id = :id"), {"id": event_id})

    await asyncio.to_thread(publish)
    _forget(request, event_id)
    return web.json_response(await _details(request, event_id))


@routes.post("/events/{event_id}/cancel")
async def cancel_event(request: web.Request) -> web.Response:
    """The event's organizer and ops: cancel the event; it stops selling at once."""
    principal = await require_principal(request, "organizer", "ops")
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    await managed_event(request, principal, event_id)
    engine = request.app[DB_ENGINE_KEY]

    def cancel() -> None:
        with engine.begin() as conn:
            _locked_event(conn, event_id)
            conn.execute(sa.text("UPDATE events SET status = 'cancelled', updated_at = now()"
                                 " WHERE id = :id AND status <> 'cancelled'"), {"id": event_id})

    await asyncio.to_thread(cancel)
    _forget(request, event_id)
    return web.json_response(await _details(request, event_id))



@routes.get("/organizer/events")
async def my_events(request: web.Request) -> web.Response:
    """Organizers (their own events, any status) and ops (everyone's): newest first."""
    from api.fan.catalog import listing_json
    from engine.store.listings import LISTING_COLUMNS

    principal = await require_principal(request, "organizer", "ops")
    limit = query_int(request, "limit", low=1, high=100, default=50)
    cursor = decode_cursor(request)
    before = None
    if cursor is not None:
        if len(cursor) != 1 or not isinstance(cursor[0], int):
            invalid("cursor", "is not a cursor this API returned")
        before = cursor[0]
    organizer_id = await organizer_of(request, principal)
    if principal.role != "ops" and organizer_id is None:
        return web.json_response({"events": [], "next_cursor": None})
    engine = request.app[DB_ENGINE_KEY]

    def read() -> list[dict[str, Any]]:
        clauses = ["true"]
        params: dict[str, Any] = {"limit": limit}
        if principal.role != "ops":
            clauses.append("organizer_id = :organizer_id")
            params["organizer_id"] = organizer_id
        if before is not None:
            clauses.append("event_id < :before")
            params["before"] = before
        with engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.text(
                f"SELECT {LISTING_COLUMNS} FROM event_listings WHERE {' AND '.join(clauses)}"
                " ORDER BY event_id DESC LIMIT :limit"), params)]

    rows = await asyncio.to_thread(read)
    next_cursor = encode_cursor([rows[-1]["event_id"]]) if limit and len(rows) == limit else None
    return web.json_response({"events": [listing_json(row) for row in rows],
                              "next_cursor": next_cursor})


# ---------------------------------------------------------------- OpenAPI

OPENAPI_SCHEMAS = FIELD_SCHEMAS

OPENAPI_PATHS: dict[str, Any] = {
    "/events": {"post": operation(
        "Create a draft event", who="organizers (on their own or shared venues) and ops",
        errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED,
                ApiErrorCode.FORBIDDEN), **SIGNED_IN_ORGANIZERS,
        description="Shared venues are those ops created without an organizer.",
        parameters=[param("organizer_id", "query", ID_SCHEMA,
                          "Ops only: the organizer of an event on a shared venue.")],
        body=json_body({"$ref": "#/components/schemas/EventInput"}),
        responses={201: ok({"type": "object"}, "The event (draft).")})},
    "/events/{event_id}": {"patch": operation(
        "Update an event", who="the event's organizer and ops",
        errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
                ApiErrorCode.EVENT_NOT_FOUND, ApiErrorCode.EVENT_CANCELLED,
                ApiErrorCode.EVENT_LOCKED), **SIGNED_IN_ORGANIZERS,
        description="A draft may change anything; a published event only "
                    f"{', '.join(sorted(set(EVENT_FIELDS) - set(LOCKED_WHEN_PUBLISHED)))} "
                    "(onsale_at only before the sale starts); a cancelled one nothing.",
        parameters=[EVENT_ID_PARAM],
        body=json_body({"$ref": "#/components/schemas/EventPatch"}),
        responses={200: ok({"type": "object"}, "The event.")})},
    "/events/{event_id}/publish": {"post": operation(
        "Publish a draft", who="the event's organizer and ops",
        errors=(ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN, ApiErrorCode.EVENT_NOT_FOUND,
                ApiErrorCode.EVENT_CANCELLED,
                ApiErrorCode.EVENT_IN_PAST), **SIGNED_IN_ORGANIZERS, parameters=[EVENT_ID_PARAM],
        responses={200: ok({"type": "object"}, "The event.")})},
    "/events/{event_id}/cancel": {"post": operation(
        "Cancel an event (stops sales at once)", who="the event's organizer and ops",
        errors=(ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
                ApiErrorCode.EVENT_NOT_FOUND), **SIGNED_IN_ORGANIZERS, parameters=[EVENT_ID_PARAM],
        responses={200: ok({"type": "object"}, "The event.")})},
    "/organizer/events": {"get": operation(
        "My events, any status", who="organizers (their own) and ops (all)",
        errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED,
                ApiErrorCode.FORBIDDEN), **SIGNED_IN_ORGANIZERS,
        parameters=[param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100},
                          "Page size (default 50)."),
                    param("cursor", "query", {"type": "string"}, "From the previous page.")],
        responses={200: ok({"type": "object"})})},
}
