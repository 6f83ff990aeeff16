"""Holdbacks: an event's organizer (or ops) blocks seats from sale and gives them back.

A holdback is a request on the event's partition queue, like a fan's hold, so it is
decided in queue order with bookings: a seat someone holds or bought is refused
(`seats_taken`), and a blocked seat is refused to every fan after it. The API answers 202
and the caller polls `GET /requests/{id}`: `done` (with the seats) or `rejected` (with
the error). The engine's commands are `BlockSeats` and `UnblockSeats`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from aiohttp import web

from api.fan.booking import enqueue_request
from api.fan.identity import require_principal
from api.http.appkeys import DB_ENGINE_KEY
from api.http.body_schema import object_schema
from api.http.error_codes import ApiErrorCode, OrganizingCode
from api.http.errors import read_json
from api.http.openapi_spec import ID_SCHEMA, json_body, ok, operation, param
from api.http.params import invalid, path_id
from api.organizer.events import managed_event
from api.organizer.ownership import actor_of
from engine.store import organizing
from engine.store.holdbacks import blocked_seats

routes = web.RouteTableDef()

MAX_HOLDBACK_SEATS = 1000
"""Seats one holdback request may name: a section of an arena; more go in several requests."""


@dataclass(frozen=True, slots=True)
class HoldbackSeats:
    """The body of a holdback and of its release."""

    seat_ids: Annotated[list[Annotated[int, {"minimum": 1}]],
                        {"minItems": 1, "maxItems": MAX_HOLDBACK_SEATS, "uniqueItems": True}]
    """Seat ids of the event's venue."""

    @classmethod
    def from_json(cls, body: Any) -> HoldbackSeats:
        return cls(_checked_seat_ids(body))


def parse_seat_ids(body: Any) -> list[int]:
    """`{"seat_ids": [ids]}`: a non-empty list of distinct seat ids."""
    return HoldbackSeats.from_json(body).seat_ids


def _checked_seat_ids(body: Any) -> list[int]:
    if not isinstance(body, dict):
        invalid("body", "must be a JSON object")
    seat_ids = body.get("seat_ids")
    if (not isinstance(seat_ids, list) or not seat_ids
            or not all(type(seat) is int and seat > 0 for seat in seat_ids)):
        invalid("seat_ids", "must be a non-empty list of seat ids")
    if len(seat_ids) > MAX_HOLDBACK_SEATS:
        invalid("seat_ids", f"at most {MAX_HOLDBACK_SEATS} seats per request")
    if len(set(seat_ids)) != len(seat_ids):
        invalid("seat_ids", "lists a seat twice")
    unknown = set(body) - {"seat_ids"}
    if unknown:
        invalid(sorted(unknown)[0], "unknown field")
    return seat_ids


async def _holdback(request: web.Request, kind: str) -> web.Response:
    principal = await require_principal(request, "organizer", "ops")
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    actor = await actor_of(request, principal)
    await asyncio.to_thread(organizing.ensure_on_sale_for_holdbacks, request.app[DB_ENGINE_KEY],
                            actor, event_id)
    seat_ids = parse_seat_ids(await read_json(request))
    return await enqueue_request(request, principal, event_id, kind, {"seat_ids": seat_ids})


@routes.post("/organizer/events/{event_id}/holdbacks")
async def block_seats(request: web.Request) -> web.Response:
    """The event's organizer and ops: hold these seats back from sale (202; decided in queue
    order with bookings)."""
    return await _holdback(request, "block")


@routes.post("/organizer/events/{event_id}/holdbacks/release")
async def unblock_seats(request: web.Request) -> web.Response:
    """The event's organizer and ops: put these held-back seats on sale again (202)."""
    return await _holdback(request, "unblock")


@routes.get("/organizer/events/{event_id}/holdbacks")
async def list_holdbacks(request: web.Request) -> web.Response:
    """The event's organizer and ops: the seats held back now, with their places."""
    principal = await require_principal(request, "organizer", "ops")
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    await managed_event(request, principal, event_id)
    seats = await asyncio.to_thread(blocked_seats, request.app[DB_ENGINE_KEY], event_id)
    return web.json_response({"event_id": event_id, "seats": seats},
                             headers={"Cache-Control": "no-store"})


_EVENT_ID = param("event_id", "path", ID_SCHEMA, "The event.")
_SEATS_BODY = json_body(object_schema(HoldbackSeats))
_ACCEPTED = ok({"type": "object", "properties": {
    "request_id": {"type": "string"}, "status": {"type": "string"},
    "status_url": {"type": "string"}}}, "Accepted, pending; poll `status_url`.")
_WRITE: Any = {"who": "the event's organizer and ops", "signed_in": True,
                "errors": (ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED,
                           ApiErrorCode.FORBIDDEN, ApiErrorCode.EVENT_NOT_FOUND,
                           OrganizingCode.EVENT_CANCELLED, OrganizingCode.EVENT_NOT_PUBLISHED,
                           ApiErrorCode.IDEMPOTENCY_CONFLICT, ApiErrorCode.QUEUE_FULL),
                "tags": ["Organizers"],
                "body": _SEATS_BODY, "responses": {202: _ACCEPTED}}
_IDEMPOTENCY = param("Idempotency-Key", "header", {"type": "string", "minLength": 1,
                                                   "maxLength": 200},
                     "Repeat a request safely: the same key returns the same request.")

OPENAPI_PATHS: dict[str, Any] = {
    "/organizer/events/{event_id}/holdbacks": {
        "post": operation(
            "Hold seats back from sale", **_WRITE, parameters=[_EVENT_ID, _IDEMPOTENCY],
            description="Decided by the event's partition in queue order with bookings: "
                        "`done` when every seat was available, else `rejected` with "
                        "`seats_taken` (details.seat_ids) or `invalid_request` (unknown "
                        "seats). 409 `event_not_published` for a draft, `event_cancelled`."),
        "get": operation(
            "The seats held back now", who="the event's organizer and ops",
            errors=(ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
                    ApiErrorCode.EVENT_NOT_FOUND), signed_in=True, tags=["Organizers"],
            parameters=[_EVENT_ID], responses={200: ok({"type": "object"})}),
    },
    "/organizer/events/{event_id}/holdbacks/release": {"post": operation(
        "Put held-back seats on sale again", **_WRITE, parameters=[_EVENT_ID, _IDEMPOTENCY],
        description="Decided in queue order: `done`, or `rejected` with `invalid_request` "
                    "(details.seat_ids: seats that are not held back).")},
}
