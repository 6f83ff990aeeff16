"""The waiting room over HTTP: join, poll, leave, the shared summary, the public key.

Fans join with their session (one place per account), then poll with the
opaque signed ticket they got: a poll is one Lua script (O(1) Redis work;
polls that arrive together share a call) and needs no sign-in, so the hottest
endpoint of an on-sale touches neither Postgres nor the session cache. When a
poll finds the fan admitted it carries the admission token (an Ed25519 JWT)
that the booking endpoints require; the public key is published as a JWKS so
other services can check tokens too.
The summary (serving position, queue length, rate) is the same for every fan,
so each API process answers it from memory for a second at a time.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from api.fan import fan_pages
from api.fan.identity import require_principal
from api.fan.presale_http import presale_gate, unlocked_tier_params
from api.fan.queue_status_json import status_json
from api.http.appkeys import REDIS_KEY, SETTINGS_KEY
from api.http.client_address import client_address
from api.http.error_codes import ApiErrorCode, RoomCode
from api.http.errors import ApiError, read_json
from api.http.fast_path import fast_route
from api.http.openapi_spec import error_codes
from api.http.params import path_id
from engine.errors import BookingError
from waitingroom.draw_store import DrawStore
from waitingroom.intents import FanIntent
from waitingroom.keyfile import load_or_create_signer
from waitingroom.pow import MAX_NONCE_CHARS, PowSolution
from waitingroom.queue_tickets import decode_ticket
from waitingroom.room import WaitingRoom
from workers.booking_requests import UNLOCKED_TIERS_PARAM, parse_hold_body

ADMISSION_KEY_FILE = "admission-key.pem"
SHARED_CACHE_SECONDS = 1.0
"""How long the summary is served from process memory."""
JWKS_MAX_AGE_SECONDS = 300
MAX_CACHED_EVENTS = 4096

routes = web.RouteTableDef()
routes.get("/events/{event_id}/waiting-room")(fan_pages.waiting_room_page)


@dataclass(slots=True)
class _Cached:
    expires_at: float
    value: Any


class SharedCache:
    """Per-process, per-event answers that are the same for every fan, kept for a second.

    Concurrent misses for one event share a single Redis read, so a crowd
    arriving at once costs one read per process per second, not one per fan.
    """

    def __init__(self, seconds: float = SHARED_CACHE_SECONDS):
        self._seconds = seconds
        self._entries: dict[tuple[str, int], _Cached] = {}
        self._pending: dict[tuple[str, int], asyncio.Future[Any]] = {}

    async def get(self, kind: str, event_id: int, load: Any) -> Any:
        entry = self._entries.get((kind, event_id))
        if entry is not None and entry.expires_at > time.monotonic():
            return entry.value
        return await self._load(kind, event_id, load)

    async def _load(self, kind: str, event_id: int, load: Any) -> Any:
        key = (kind, event_id)
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            del self._pending[key]
        future.set_result(value)
        if len(self._entries) >= MAX_CACHED_EVENTS:
            self._entries.clear()
        self._entries[key] = _Cached(time.monotonic() + self._seconds, value)
        return value


WAITING_ROOM_KEY = web.AppKey("waiting_room", WaitingRoom)
SHARED_CACHE_KEY = web.AppKey("waiting_room_cache", SharedCache)


async def waiting_room_ctx(app: web.Application) -> AsyncIterator[None]:
    """One WaitingRoom per API process, signing with the key file under the data directory."""
    settings = app[SETTINGS_KEY]
    signer = await asyncio.to_thread(
        load_or_create_signer, settings.data_dir / ADMISSION_KEY_FILE
    )
    room = WaitingRoom(app[REDIS_KEY], settings.redis_prefix, signer)
    app[WAITING_ROOM_KEY] = room
    app[SHARED_CACHE_KEY] = SharedCache()
    yield
    await room.close()


def event_id_of(request: web.Request) -> int:
    return path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")


def _urls(event_id: int, ticket: str) -> dict[str, str]:
    return {
        "status_url": f"/events/{event_id}/queue/{ticket}",
        "summary_url": f"/events/{event_id}/queue",
        "receipt_url": f"/events/{event_id}/queue/{ticket}/receipt",
    }


async def _pow_solution(request: web.Request) -> PowSolution | None:
    """The optional `{"pow": {"challenge", "nonce"}}` body of a join."""
    if not request.body_exists:
        return None
    body = await read_json(request)
    proof = body.get("pow")
    if proof is None:
        return None
    challenge = proof.get("challenge") if isinstance(proof, dict) else None
    nonce = proof.get("nonce") if isinstance(proof, dict) else None
    if not (
        isinstance(challenge, str)
        and isinstance(nonce, str)
        and 0 < len(challenge) <= 200
        and 0 < len(nonce) <= MAX_NONCE_CHARS
    ):
        raise ApiError(
            ApiErrorCode.INVALID_REQUEST,
            "pow: an object with the challenge and a nonce (strings)",
            {"field": "pow"},
        )
    return PowSolution(challenge, nonce)


_STATUS_HEADERS = {"Cache-Control": "no-store", "Content-Type": "application/json; charset=utf-8"}


def _no_store(body: dict[str, Any], status: int = 200, **headers: str) -> web.Response:
    return web.json_response(body, status=status, headers={"Cache-Control": "no-store", **headers})


@routes.post("/events/{event_id}/queue")
async def join_queue(request: web.Request) -> web.Response:
    """Signed-in fan: take a place in the event's line; joining again returns the same place.

    201 with a new place, 200 with the place already held. Refusals: 429
    `rate_limited` (per account and per IP, with Retry-After), 409
    `queue_closed`, 403 `pow_required` (details: the challenge to solve and
    send back as `{"pow": {"challenge", "nonce"}}`), 400 `pow_invalid`, 404
    `room_not_found`.
    """
    event_id = event_id_of(request)
    principal = await require_principal(request)
    await presale_gate(request, event_id, principal.user_id)
    solution = await _pow_solution(request)
    room = request.app[WAITING_ROOM_KEY]
    joined = await room.join(
        event_id, principal.user_id, time.time(), ip=client_address(request), pow_solution=solution
    )
    urls = _urls(event_id, joined.ticket)
    store = DrawStore(request.app[REDIS_KEY], request.app[SETTINGS_KEY].redis_prefix, room.signer)
    receipt = await store.receipt_if_recorded(event_id, joined.ticket)
    body = {**joined.to_json(), **urls, "receipt": receipt}
    return _no_store(body, 201 if joined.created else 200, Location=urls["status_url"])


@routes.get("/events/{event_id}/queue/{ticket}")
@fast_route
async def queue_status(request: web.Request) -> web.Response:
    """Holder of the queue ticket (no sign-in: the signed ticket is the handle): where they stand.

    State waiting / admitted / expired, people ahead, estimated wait at the
    measured admission rate, the suggested delay before the next poll, and,
    once admitted, the admission token for the booking endpoints. Each poll
    also keeps the place: a fan who stops polling loses it.

    The hottest route of an on-sale: served on the fast path (`api.http.fast_path`),
    polls arriving together share one Lua script call (`waitingroom.polls`),
    and the JSON body is written directly (`api.fan.queue_status_json`).
    """
    event_id = event_id_of(request)
    status = await request.app[WAITING_ROOM_KEY].status(
        event_id, request.match_info["ticket"], time.time()
    )
    return web.Response(body=status_json(status), headers=_STATUS_HEADERS)


@routes.delete("/events/{event_id}/queue/{ticket}")
async def leave_queue(request: web.Request) -> web.Response:
    """Holder of the queue ticket: give the place up, or end the admitted session (its token dies).

    Idempotent: `left` says whether there was anything to give up.
    """
    event_id = event_id_of(request)
    left = await request.app[WAITING_ROOM_KEY].leave(event_id, request.match_info["ticket"])
    return _no_store({"event_id": event_id, "left": left})


def _intent_params(body: Any) -> dict[str, Any]:
    """The intent body (`quantity`, `section_id`?, `tier`?, `max_price_cents`?, `split_ok`?)
    checked by the booking pipeline's own best-available parser: an intent is held exactly
    as the same reservation would be."""
    try:
        return parse_hold_body({"best_available": body})
    except BookingError as refused:
        field = str(refused.details.get("field", "body")).removeprefix("best_available.")
        raise ApiError(
            ApiErrorCode.INVALID_INTENT,
            f"{field}: {refused.details.get('reason', refused.message)}",
            {"field": field},
        ) from None


@routes.put("/events/{event_id}/queue/{ticket}/intent")
@routes.post("/events/{event_id}/queue/{ticket}/intent")
async def state_intent(request: web.Request) -> web.Response:
    """Holder of the queue ticket, still waiting: what to hold for them at their turn.

    At admission the partition holds the best seats matching it, in line order, and the
    admitted poll carries `hold_request_id`. Stating it again replaces it. Refusals: 400
    `invalid_intent` (details.field), 409 `not_waiting` (admitted already, or the place was
    lost), 404 `invalid_ticket` / `room_not_found`.
    """
    event_id = event_id_of(request)
    params = _intent_params(await read_json(request))
    room = request.app[WAITING_ROOM_KEY]
    ticket = request.match_info["ticket"]
    holder = decode_ticket(room.signer.mac_key, ticket, event_id).user_id
    # Held at admission for this account: with the presale tiers it was let into by now.
    params.update(await unlocked_tier_params(request, event_id, holder))
    intent = await room.set_intent(event_id, ticket, params, time.time())
    return _no_store({"event_id": event_id, "intent": _intent_json(intent)})


def _intent_json(intent: FanIntent) -> dict[str, Any]:
    """The intent as the fan stated it (the unlocked tiers the server added left out)."""
    shown = intent.to_json()
    shown.pop(UNLOCKED_TIERS_PARAM, None)
    return shown


@routes.get("/events/{event_id}/queue/{ticket}/intent")
async def read_intent(request: web.Request) -> web.Response:
    """Holder of the queue ticket: the intent stated (null if none) and, once admitted, the
    hold request made from it."""
    event_id = event_id_of(request)
    intent = await request.app[WAITING_ROOM_KEY].get_intent(
        event_id, request.match_info["ticket"], time.time()
    )
    return _no_store({"event_id": event_id,
                      "intent": None if intent is None else _intent_json(intent)})


@routes.get("/events/{event_id}/queue")
async def queue_summary(request: web.Request) -> web.Response:
    """Anyone: the line as a whole (serving position, queue length, rate), the same for all fans.

    Cacheable for a second, by the browser, a CDN and this process alike.
    """
    event_id = event_id_of(request)
    room = request.app[WAITING_ROOM_KEY]

    async def load() -> bytes:
        summary = await room.summary(event_id, time.time())
        return json.dumps(summary.to_json()).encode()

    body = await request.app[SHARED_CACHE_KEY].get("summary", event_id, load)
    return web.Response(
        body=body,
        content_type="application/json",
        headers={"Cache-Control": f"public, max-age={int(SHARED_CACHE_SECONDS)}"},
    )


@routes.get("/.well-known/jwks.json")
async def jwks(request: web.Request) -> web.Response:
    """Anyone: the public key that admission tokens are signed with (Ed25519, JWKS)."""
    return web.json_response(
        request.app[WAITING_ROOM_KEY].signer.jwks(),
        headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE_SECONDS}"},
    )


def _error_doc(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


_ERROR: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}
_EVENT_ID = {"name": "event_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_TICKET = {"name": "ticket", "in": "path", "required": True, "schema": {"type": "string"}}
_STATUS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event_id": {"type": "integer"},
        "state": {"type": "string", "enum": ["waiting", "admitted", "expired", "sold_out"]},
        "position": {"type": ["integer", "null"]},
        "people_ahead": {"type": ["integer", "null"]},
        "serving_position": {"type": "integer"},
        "estimated_wait_seconds": {"type": ["number", "null"]},
        "poll_after_seconds": {"type": ["number", "null"]},
        "in_prequeue": {"type": "boolean"},
        "paused": {"type": "boolean"},
        "sale_starts_at": {"type": "number"},
        "admission_token": {"type": ["string", "null"]},
        "admission_expires_at": {"type": ["number", "null"]},
        "position_expiry_seconds": {"type": "number"},
        "stock": {
            "type": "string",
            "enum": ["unknown", "available", "likely_sold_out", "sold_out"],
        },
        "tickets_left": {"type": ["integer", "null"]},
        "tickets_wanted_ahead": {"type": ["number", "null"]},
        "waiting_list": {"type": ["string", "null"], "enum": ["waiting_list_available", None]},
        "hold_request_id": {"type": ["string", "null"]},
    },
}
_JOINED: dict[str, Any] = {
    "type": "object",
    "properties": {
        **_STATUS["properties"],
        "ticket": {"type": "string"},
        "created": {"type": "boolean"},
        "status_url": {"type": "string"},
        "summary_url": {"type": "string"},
        "receipt_url": {"type": "string"},
        "receipt": {"type": "string"},
    },
}


_INTENT: dict[str, Any] = {
    "type": "object",
    "required": ["quantity"],
    "properties": {
        "quantity": {"type": "integer", "minimum": 1},
        "section_id": {"type": "integer", "minimum": 1},
        "tier": {"type": "string"},
        "max_price_cents": {"type": "integer", "minimum": 1},
        "split_ok": {"type": "boolean"},
    },
}
_INTENT_ANSWER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event_id": {"type": "integer"},
        "intent": {
            "type": ["object", "null"],
            "properties": {
                **_INTENT["properties"],
                "hold_request_id": {"type": ["string", "null"]},
            },
        },
    },
}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


OPENAPI_PATHS: dict[str, Any] = {
    "/events/{event_id}/queue": {
        "parameters": [_EVENT_ID],
        "post": {
            "tags": ["waiting room"],
            "summary": "Join the event's waiting room (signed-in fan; one place per account)",
            "x-error-codes": error_codes((
                ApiErrorCode.INVALID_REQUEST, RoomCode.POW_INVALID, ApiErrorCode.UNAUTHORIZED,
                RoomCode.POW_REQUIRED, ApiErrorCode.EVENT_NOT_FOUND, RoomCode.ROOM_NOT_FOUND,
                RoomCode.QUEUE_CLOSED, RoomCode.RATE_LIMITED, ApiErrorCode.FORBIDDEN,
                ApiErrorCode.PRESALE_ONLY)),
            "security": [{"bearerAuth": []}],
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "pow": {
                                    "type": "object",
                                    "properties": {
                                        "challenge": {"type": "string"},
                                        "nonce": {"type": "string"},
                                    },
                                }
                            },
                        }
                    }
                },
            },
            "responses": {
                "201": _json("a new place in line", _JOINED),
                "200": _json("the place this account already holds", _JOINED),
                "401": _error_doc("not signed in"),
                "403": _error_doc("pow_required: solve the challenge in details"),
                "400": _error_doc("pow_invalid or a malformed body"),
                "404": _error_doc("room_not_found: the event has no waiting room"),
                "409": _error_doc("queue_closed: the queue opens later"),
                "429": _error_doc("rate_limited (per account or per IP); see Retry-After"),
            },
        },
        "get": {
            "tags": ["waiting room"],
            "summary": "The line as a whole, the same for every fan (cacheable for a second)",
            "x-error-codes": error_codes((ApiErrorCode.EVENT_NOT_FOUND, RoomCode.ROOM_NOT_FOUND)),
            "responses": {
                "200": _json(
                    "serving position, queue length, admission rate",
                    {
                        "type": "object",
                        "properties": {
                            "serving_position": {"type": "integer"},
                            "queue_length": {"type": "integer"},
                            "admission_rate_per_second": {"type": ["number", "null"]},
                            "active_sessions": {"type": "integer"},
                            "paused": {"type": "boolean"},
                            "started": {"type": "boolean"},
                            "state": {"type": "string", "enum": ["open", "sold_out"]},
                            "tickets_left": {"type": ["integer", "null"]},
                            "tickets_per_admitted_fan": {"type": ["number", "null"]},
                            "waiting_list": {"type": ["string", "null"]},
                        },
                    },
                ),
                "404": _error_doc("room_not_found"),
            },
        },
    },
    "/events/{event_id}/queue/{ticket}": {
        "parameters": [_EVENT_ID, _TICKET],
        "get": {
            "tags": ["waiting room"],
            "summary": "Poll a place (ticket holder): state, people ahead, ETA, admission token",
            "x-error-codes": error_codes((ApiErrorCode.EVENT_NOT_FOUND, RoomCode.ROOM_NOT_FOUND,
                                            RoomCode.INVALID_TICKET)),
            "responses": {
                "200": _json("where the ticket's holder stands", _STATUS),
                "404": _error_doc("invalid_ticket or room_not_found"),
            },
        },
        "delete": {
            "tags": ["waiting room"],
            "summary": "Leave the line or end the admitted session (ticket holder)",
            "x-error-codes": error_codes((ApiErrorCode.EVENT_NOT_FOUND, RoomCode.INVALID_TICKET)),
            "responses": {
                "200": _json(
                    "whether there was a place or session to give up",
                    {"type": "object", "properties": {"left": {"type": "boolean"}}},
                ),
                "404": _error_doc("invalid_ticket"),
            },
        },
    },
    "/events/{event_id}/queue/{ticket}/intent": {
        "parameters": [_EVENT_ID, _TICKET],
        **{
            method: {
                "tags": ["waiting room"],
                "summary": "State what to hold at your turn (ticket holder, still waiting)",
                "x-error-codes": error_codes((
                    ApiErrorCode.EVENT_NOT_FOUND, ApiErrorCode.INVALID_REQUEST,
                    ApiErrorCode.INVALID_INTENT, RoomCode.INVALID_TICKET,
                    RoomCode.ROOM_NOT_FOUND, RoomCode.NOT_WAITING)),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _INTENT}},
                },
                "responses": {
                    "200": _json("the intent recorded", _INTENT_ANSWER),
                    "400": _error_doc("invalid_intent (details.field) or a malformed body"),
                    "404": _error_doc("invalid_ticket or room_not_found"),
                    "409": _error_doc("not_waiting: admitted already, or the place was lost"),
                },
            }
            for method in ("put", "post")
        },
        "get": {
            "tags": ["waiting room"],
            "summary": "The intent stated (null if none) and, once admitted, its hold request",
            "x-error-codes": error_codes((ApiErrorCode.EVENT_NOT_FOUND, RoomCode.INVALID_TICKET,
                                            RoomCode.ROOM_NOT_FOUND)),
            "responses": {
                "200": _json("the intent", _INTENT_ANSWER),
                "404": _error_doc("invalid_ticket or room_not_found"),
            },
        },
    },
    "/.well-known/jwks.json": {
        "get": {
            "tags": ["waiting room"],
            "summary": "The public key admission tokens are signed with (JWKS, Ed25519)",
            "responses": {"200": _json("a JSON Web Key Set", {"type": "object"})},
        }
    },
    **fan_pages.OPENAPI_PATHS,
}
