"""Organizers' events: created as drafts, then published or cancelled; their own list.

An organizer manages only their own events; ops manage all. Publishing puts an
event in the catalog (and lets the partition consumer load it); once published,
what the inventory depends on (venue, price tiers, buyer limit, currency, hold
time) is fixed, because a loaded inventory and the holds already granted were
priced by it. Cancelling stops sales at once: the booking endpoints ask
`api.fan.sale_status.ensure_on_sale`. The rules and the SQL are
`engine.store.organizing`'s; the handlers parse, call it, answer.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from api.fan.catalog import listing_json, read_details
from api.fan.identity import Principal, require_principal
from api.fan.sale_status import SALE_STATUS_KEY
from api.fan.seatmap_cache import SEATMAP_CACHE_KEY
from api.http.appkeys import DB_ENGINE_KEY, SETTINGS_KEY
from api.http.error_codes import ApiErrorCode, OrganizingCode
from api.http.errors import ApiError, read_json
from api.http.openapi_spec import ID_SCHEMA, json_body, ok, operation, param
from api.http.params import decode_cursor, encode_cursor, invalid, path_id, query_int
from api.organizer.organizer_fields import (
    EVENT_FIELDS,
    EVENT_ID_PARAM,
    FIELD_SCHEMAS,
    SIGNED_IN_ORGANIZERS,
    EventFields,
)
from api.organizer.ownership import acting_organizer, actor_of
from engine.store import organizing
from engine.store.organizing import LOCKED_WHEN_PUBLISHED, Actor

routes = web.RouteTableDef()


async def managed_event(request: web.Request, principal: Principal, event_id: int) -> None:
    """Refuse unless the caller manages the event (someone else's draft is not found)."""
    actor = await actor_of(request, principal)
    await asyncio.to_thread(organizing.ensure_manages_event, request.app[DB_ENGINE_KEY], actor,
                            event_id)


def _forget(request: web.Request, event_id: int) -> None:
    request.app[SALE_STATUS_KEY].forget(event_id)
    request.app[SEATMAP_CACHE_KEY].forget(event_id)


async def _details(request: web.Request, event_id: int) -> dict[str, Any]:
    details = await asyncio.to_thread(read_details, request.app[DB_ENGINE_KEY], event_id)
    if details is None:
        raise ApiError(ApiErrorCode.EVENT_NOT_FOUND, "No such event.", {"event_id": event_id})
    details.pop("_window")
    return details


@routes.post("/events")
async def create_event(request: web.Request) -> web.Response:
    """Organizers (on their own or shared venues) and ops: create a draft event."""
    principal = await require_principal(request, "organizer", "ops")
    fields = EventFields.from_json(await read_json(request), partial=False).given()
    if principal.role == "organizer":
        organizer_id: int | None = await acting_organizer(request, principal)
    else:
        organizer_id = query_int(request, "organizer_id", low=1, high=2**62)
    event_id = await asyncio.to_thread(
        organizing.create_event, request.app[DB_ENGINE_KEY],
        Actor(is_ops=principal.role == "ops", organizer_id=organizer_id), fields,
        default_hold_ttl_seconds=int(request.app[SETTINGS_KEY].hold_ttl_seconds))
    return web.json_response(await _details(request, event_id), status=201,
                             headers={"Location": f"/events/{event_id}"})


@routes.patch("/events/{event_id}")
async def update_event(request: web.Request) -> web.Response:
    """The event's organizer and ops: change a draft freely, a published one's descriptions."""
    principal = await require_principal(request, "organizer", "ops")
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    fields = EventFields.from_json(await read_json(request), partial=True).given()
    actor = await actor_of(request, principal)
    await asyncio.to_thread(organizing.update_event, request.app[DB_ENGINE_KEY], actor,
                            event_id, fields, datetime.now(UTC))
    _forget(request, event_id)
    return web.json_response(await _details(request, event_id))


@routes.post("/events/{event_id}/publish")
async def publish_event(request: web.Request) -> web.Response:
    """The event's organizer and ops: put a draft on the catalog (and on sale at onsale_at)."""
    principal = await require_principal(request, "organizer", "ops")
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    actor = await actor_of(request, principal)
    await asyncio.to_thread(organizing.publish_event, request.app[DB_ENGINE_KEY], actor,
                            event_id, datetime.now(UTC))
    _forget(request, event_id)
    return web.json_response(await _details(request, event_id))


@routes.post("/events/{event_id}/cancel")
async def cancel_event(request: web.Request) -> web.Response:
    """The event's organizer and ops: cancel the event; it stops selling at once."""
    principal = await require_principal(request, "organizer", "ops")
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    actor = await actor_of(request, principal)
    await asyncio.to_thread(organizing.cancel_event, request.app[DB_ENGINE_KEY], actor,
                            event_id)
    _forget(request, event_id)
    return web.json_response(await _details(request, event_id))


@routes.get("/organizer/events")
async def my_events(request: web.Request) -> web.Response:
    """Organizers (their own events, any status) and ops (everyone's): newest first."""
    principal = await require_principal(request, "organizer", "ops")
    limit = query_int(request, "limit", low=1, high=100, default=50) or 50
    cursor = decode_cursor(request)
    before = None
    if cursor is not None:
        if len(cursor) != 1 or not isinstance(cursor[0], int):
            invalid("cursor", "is not a cursor this API returned")
        before = cursor[0]
    actor = await actor_of(request, principal)
    rows = await asyncio.to_thread(organizing.organizer_events, request.app[DB_ENGINE_KEY],
                                   actor, limit, before)
    next_cursor = encode_cursor([rows[-1]["event_id"]]) if len(rows) == limit else None
    return web.json_response({"events": [listing_json(row) for row in rows],
                              "next_cursor": next_cursor})


# ---------------------------------------------------------------- OpenAPI

OPENAPI_SCHEMAS = FIELD_SCHEMAS

OPENAPI_PATHS: dict[str, Any] = {
    "/events": {"post": operation(
        "Create a draft event", who="organizers (on their own or shared venues) and ops",
        errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED,
                ApiErrorCode.FORBIDDEN, ApiErrorCode.EVENT_NOT_FOUND), **SIGNED_IN_ORGANIZERS,
        description="Shared venues are those ops created without an organizer.",
        parameters=[param("organizer_id", "query", ID_SCHEMA,
                          "Ops only: the organizer of an event on a shared venue.")],
        body=json_body({"$ref": "#/components/schemas/EventInput"}),
        responses={201: ok({"type": "object"}, "The event (draft).")})},
    "/events/{event_id}": {"patch": operation(
        "Update an event", who="the event's organizer and ops",
        errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
                ApiErrorCode.EVENT_NOT_FOUND, OrganizingCode.EVENT_CANCELLED,
                OrganizingCode.EVENT_LOCKED), **SIGNED_IN_ORGANIZERS,
        description="A draft may change anything; a published event only "
                    f"{', '.join(sorted(set(EVENT_FIELDS) - set(LOCKED_WHEN_PUBLISHED)))} "
                    "(onsale_at only before the sale starts); a cancelled one nothing.",
        parameters=[EVENT_ID_PARAM],
        body=json_body({"$ref": "#/components/schemas/EventPatch"}),
        responses={200: ok({"type": "object"}, "The event.")})},
    "/events/{event_id}/publish": {"post": operation(
        "Publish a draft", who="the event's organizer and ops",
        errors=(ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN, ApiErrorCode.EVENT_NOT_FOUND,
                OrganizingCode.EVENT_CANCELLED,
                OrganizingCode.EVENT_IN_PAST), **SIGNED_IN_ORGANIZERS, parameters=[EVENT_ID_PARAM],
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
