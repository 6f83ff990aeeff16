"""The sold-out waiting list for fans: join it, see the place or the offer, leave it.

Joining is refused (409 `not_sold_out`) while enough seats of the asked tier that the fan
may get are free: book them instead; and (403 `tier_locked`) for a tier a presale unlocks
that the fan was not let into: only tiers the fan can get are waited for. An offer is a
hold for the fan made by the event's partition (`workers.waiting_list`); the fan checks it
out like any hold (`hold_id`) before `offer_expires_at`, and is told by mail through the
notifications outbox too.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from api.fan.identity import require_principal
from api.http.appkeys import DB_ENGINE_KEY
from api.http.error_codes import ApiErrorCode, BookingCode
from api.http.errors import ApiError, read_json
from api.http.openapi_spec import ID_SCHEMA, json_body, ok, operation, param
from api.http.params import body_int, invalid, path_id
from engine.store import waiting_list as store
from engine.store.presales import TierAccess, tier_access

routes = web.RouteTableDef()


def _free_seats(engine: Any, event_id: int, tier: str | None,
                account_id: int) -> tuple[int, TierAccess]:
    """Free seats (of the tier) the account may get, and its access to presale tiers."""
    with engine.connect() as conn:
        access = tier_access(conn, event_id, account_id)
        return store.free_seats(conn, event_id, tier, access.closed), access


def _event_exists(engine: Any, event_id: int) -> bool:
    with engine.connect() as conn:
        return store.is_published(conn, event_id)


@routes.post("/events/{event_id}/waiting-list")
async def join_waiting_list(request: web.Request) -> web.Response:
    """Signed-in fan: `{"quantity", "tier"?}` -> 201 a place at the back (200: already on it)."""
    principal = await require_principal(request)
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    body = await read_json(request)
    if not isinstance(body, dict):
        invalid("body", "must be a JSON object")
    quantity = body_int(body, "quantity", low=1, high=store.MAX_WAITING_LIST_QUANTITY)
    tier = body.get("tier")
    if tier is not None and (not isinstance(tier, str) or not 0 < len(tier) <= 64):
        invalid("tier", "must be a price tier code")
    assert quantity is not None
    engine = request.app[DB_ENGINE_KEY]
    exists = await asyncio.to_thread(_event_exists, engine, event_id)
    if not exists:
        raise ApiError(ApiErrorCode.EVENT_NOT_FOUND, "No such event.", {"event_id": event_id})
    free, access = await asyncio.to_thread(_free_seats, engine, event_id, tier,
                                           principal.user_id)
    if tier is not None and tier in access.closed:
        raise ApiError(BookingCode.TIER_LOCKED,
                       "This price tier is open only to presale code holders.",
                       {"event_id": event_id, "tier": tier})
    if free >= quantity:
        raise ApiError(ApiErrorCode.NOT_SOLD_OUT, "Tickets are still on sale: book them instead.",
                       {"event_id": event_id, "free_seats": free})
    entry, created = await asyncio.to_thread(
        store.join_list, engine, event_id, principal.user_id, quantity, tier)
    return web.json_response(entry.to_json(), status=201 if created else 200,
                             headers={"Cache-Control": "no-store"})


@routes.get("/events/{event_id}/waiting-list")
async def my_waiting_list_entry(request: web.Request) -> web.Response:
    """Signed-in fan: the account's entry: place while waiting, the offer once made."""
    principal = await require_principal(request)
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    entry = await asyncio.to_thread(
        store.entry_of, request.app[DB_ENGINE_KEY], event_id, principal.user_id)
    if entry is None:
        raise ApiError(ApiErrorCode.NOT_ON_WAITING_LIST, "This account is not on the waiting list.",
                       {"event_id": event_id})
    return web.json_response(entry.to_json(), headers={"Cache-Control": "no-store"})


@routes.delete("/events/{event_id}/waiting-list")
async def leave_waiting_list(request: web.Request) -> web.Response:
    """Signed-in fan: leave the list (while waiting); idempotent."""
    principal = await require_principal(request)
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    left = await asyncio.to_thread(
        store.leave_list, request.app[DB_ENGINE_KEY], event_id, principal.user_id)
    return web.json_response({"event_id": event_id, "left": left},
                             headers={"Cache-Control": "no-store"})


_EVENT = param("event_id", "path", ID_SCHEMA, "event id")
_ENTRY: dict[str, Any] = {"type": "object"}
OPENAPI_PATHS: dict[str, Any] = {
    "/events/{event_id}/waiting-list": {
        "post": operation(
            "Join the sold-out waiting list", who="signed-in fan", tags=["waiting list"],
            errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
                    ApiErrorCode.EVENT_NOT_FOUND, ApiErrorCode.NOT_SOLD_OUT,
                    BookingCode.TIER_LOCKED),
            parameters=[_EVENT],
            body=json_body({"type": "object", "required": ["quantity"], "properties": {
                "quantity": {"type": "integer", "minimum": 1,
                             "maximum": store.MAX_WAITING_LIST_QUANTITY},
                "tier": {"type": "string"}}}),
            responses={201: ok(_ENTRY, "a place at the back"), 200: ok(_ENTRY, "already on it")},
            signed_in=True),
        "get": operation(
            "The account's waiting-list entry (place, or the offer)", who="signed-in fan",
            errors=(ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN, ApiErrorCode.EVENT_NOT_FOUND,
                    ApiErrorCode.NOT_ON_WAITING_LIST),
            tags=["waiting list"], parameters=[_EVENT], responses={200: ok(_ENTRY)},
            signed_in=True),
        "delete": operation(
            "Leave the waiting list", who="signed-in fan", tags=["waiting list"],
            errors=(ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
                    ApiErrorCode.EVENT_NOT_FOUND),
            parameters=[_EVENT], responses={200: ok({"type": "object"})}, signed_in=True),
    },
}
