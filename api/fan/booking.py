"""Reservations, their status (poll and SSE), early release, checkout and orders.

Every write is a request on the event's partition queue: the API validates,
enqueues (one Redis round trip) and answers 202 at once; the fan polls
`GET /requests/{id}` or streams `GET /requests/{id}/events` for the decision.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from api.fan.admission import require_admission
from api.fan.identity import Principal, require_principal
from api.fan.request_recovery import recovered_state
from api.fan.results_hub import HUB_KEY, sse_response, sse_send
from api.fan.sale_status import ensure_on_sale
from api.http.appkeys import DB_ENGINE_KEY, GATEWAY_KEY, REDIS_KEY, SETTINGS_KEY
from api.http.errors import ApiError, read_json
from api.http.params import path_id, path_token
from engine.store.order_payments import OrderPayment, order_payment
from workers.booking_requests import event_of, parse_hold_body
from workers.enqueue import IdempotencyConflict, QueueFull, RequestQueue
from workers.gateway import PaymentGateway
from workers.keys import Keys
from workers.partitions import partition_for
from workers.payments import authorize_job, order_id_for, public_order

routes = web.RouteTableDef()

FINAL_REQUEST_STATES = frozenset(
    {"held", "rejected", "failed", "released", "sold", "refunded", "done"}
)
FINAL_ORDER_STATES = frozenset({"paid", "declined", "voided", "refunded"})
SSE_HEARTBEAT_SECONDS = 15.0
SSE_MAX_SECONDS = 300.0
ORDER_POLL_SECONDS = 1.0
RETRY_AFTER_SECONDS = 2
PINS_CACHE_SECONDS = 1.0
MAX_IDEMPOTENCY_KEY_LENGTH = 200


class Booking:
    """Per-app booking services: the request queue, the partition directory and the payment
    gateway's card tokenizer."""

    def __init__(self, app: web.Application):
        settings = app[SETTINGS_KEY]
        self.redis = app[REDIS_KEY]
        self.keys = Keys(settings.redis_prefix)
        self.partitions = settings.partitions
        self.queue = RequestQueue(self.redis, self.keys, settings.max_queue_depth)
        self.gateway: PaymentGateway = app[GATEWAY_KEY]
        self._pins: dict[int, str] = {}
        self._pins_read_at = 0.0

    async def partition_of(self, event_id: int) -> str:
        if time.monotonic() - self._pins_read_at > PINS_CACHE_SECONDS:
            raw = await self.redis.hgetall(self.keys.partition_pins())
            self._pins = {int(k): v.decode() for k, v in raw.items()}
            self._pins_read_at = time.monotonic()
        return partition_for(event_id, self.partitions, self._pins)


BOOKING_KEY = web.AppKey("booking", Booking)


async def booking_ctx(app: web.Application) -> Any:
    app[BOOKING_KEY] = Booking(app)
    yield


def _event_id(request: web.Request) -> int:
    return path_id(request, "event_id", "event_not_found", "event")


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (
        0 < len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH and key.isascii() and key.isprintable()
    ):
        raise ApiError(
            400,
            "invalid_request",
            "Idempotency-Key: 1 to 200 printable ASCII characters",
            {"field": "Idempotency-Key"},
        )
    return key


async def enqueue_request(
    request: web.Request, principal: Principal, event_id: int, kind: str, params: dict[str, Any]
) -> web.Response:
    booking = request.app[BOOKING_KEY]
    try:
        enqueued = await booking.queue.enqueue(
            event_id=event_id,
            buyer_id=principal.user_id,
            kind=kind,
            params=params,
            partition=await booking.partition_of(event_id),
            idempotency_key=_idempotency_key(request),
        )
    except QueueFull as full:
        raise ApiError(
            429,
            "queue_full",
            "Too many requests are waiting for this event; try again shortly.",
            {"depth": full.depth, "retry_after": RETRY_AFTER_SECONDS},
        ) from None
    except IdempotencyConflict as conflict:
        raise ApiError(
            409,
            "idempotency_conflict",
            "This Idempotency-Key was used for a different request.",
            {"request_id": str(conflict)},
        ) from None
    request_id = enqueued.request_id
    return web.json_response(
        {
            "request_id": request_id,
            "status": "pending",
            "duplicate": enqueued.duplicate,
            "status_url": f"/requests/{request_id}",
            "events_url": f"/requests/{request_id}/events",
        },
        status=202,
        headers={"Location": f"/requests/{request_id}"},
    )


@routes.post("/events/{event_id}/reservations")
async def create_reservation(request: web.Request) -> web.Response:
    """Signed-in fan admitted to the event: hold seats (explicit, best available or GA)."""
    event_id = _event_id(request)
    principal = await require_principal(request)
    await ensure_on_sale(request, event_id)
    await require_admission(request, event_id, principal)
    params = parse_hold_body(await read_json(request))
    return await enqueue_request(request, principal, event_id, "hold", params)


async def _request_state(
    request: web.Request, request_id: str, principal: Principal
) -> dict[str, Any]:
    booking = request.app[BOOKING_KEY]
    raw = await booking.redis.hgetall(booking.keys.request(request_id))
    record = {k.decode(): v.decode() for k, v in raw.items()}
    if not record:  # never made, or lost with Redis: ask Postgres and the id's age
        recovered = await recovered_state(request, booking.redis, request_id,
                                          principal.user_id, principal.role == "ops")
        if recovered is None:
            raise ApiError(
                404, "request_not_found", "No such request for you.", {"request_id": request_id}
            )
        if recovered["status"] == "held":
            recovered["hold_status"] = _hold_status(None, recovered.get("expires_at"))
        return recovered
    if int(record["buyer_id"]) != principal.user_id and principal.role != "ops":
        raise ApiError(
            404, "request_not_found", "No such request for you.", {"request_id": request_id}
        )
    state: dict[str, Any] = {
        "request_id": request_id,
        "kind": record["kind"],
        "event_id": int(record["event_id"]),
        "status": record["status"],
    }
    if record["status"] == "pending":
        partition = record["partition"]
        dequeued = await booking.redis.get(booking.keys.dequeued_count(partition))
        state["ahead"] = max(0, int(record["seq"]) - int(dequeued or 0) - 1)
    else:
        state.update(json.loads(record.get("result") or "{}"))
        state["decided_at"] = float(record.get("decided_at") or 0)
        if record["kind"] in ("hold", "offer") and record["status"] == "held":
            state["hold_status"] = _hold_status(record.get("hold_status"), state.get("expires_at"))
    return state


def _hold_status(recorded: str | None, expires_at: Any) -> str:
    """active, or how the hold ended: released, expired, sold, cancelled (its event's sale
    ended) or refunded (its order, after the sale), as the partition recorded it; a hold
    past its expiry the partition has not yet expired (it does within a second) is already
    expired for the fan."""
    if recorded:
        return recorded
    if isinstance(expires_at, int | float) and expires_at <= time.time():
        return "expired"
    return "active"


def _request_id(request: web.Request) -> str:
    request_id = path_token(request, "request_id", "request_not_found", "request")
    try:
        event_of(request_id)
    except Exception:
        raise ApiError(
            404, "request_not_found", "No such request.", {"request_id": request_id}
        ) from None
    return request_id


@routes.get("/requests/{request_id}")
async def get_request(request: web.Request) -> web.Response:
    """The request's owner (or ops): pending with people ahead, or its decision."""
    principal = await require_principal(request)
    state = await _request_state(request, _request_id(request), principal)
    headers = {"Retry-After": "1"} if state["status"] == "pending" else {}
    return web.json_response(state, headers=headers)


@routes.get("/requests/{request_id}/events")
async def stream_request(request: web.Request) -> web.StreamResponse:
    """The request's owner: the same states as Server-Sent Events, ending with the decision."""
    principal = await require_principal(request)
    request_id = _request_id(request)
    hub = request.app[HUB_KEY]
    waiter = hub.watch(request_id)  # before reading, so no decision slips between
    try:
        state = await _request_state(request, request_id, principal)
        response = await sse_response(request)
        await sse_send(response, state["status"], state)
        deadline = time.monotonic() + SSE_MAX_SECONDS
        while (state["status"] not in FINAL_REQUEST_STATES and time.monotonic() < deadline
               and not hub.stopping):
            try:
                await asyncio.wait_for(waiter.get(), SSE_HEARTBEAT_SECONDS)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                state = await _request_state(request, request_id, principal)
                if state["status"] == "pending":
                    await sse_send(response, "pending", state)
                continue
            state = await _request_state(request, request_id, principal)
            await sse_send(response, state["status"], state)
        await response.write_eof()
        return response
    finally:
        hub.unwatch(request_id, waiter)


@routes.delete("/holds/{hold_id}")
async def release_hold(request: web.Request) -> web.Response:
    """The hold's owner: give the seats back now (decided in queue order, 202)."""
    principal = await require_principal(request)
    hold_id = path_token(request, "hold_id", "hold_not_found", "hold")
    hold = await _owned_hold(request, hold_id, principal)  # not theirs, or gone: 404 now
    if hold["hold_status"] != "active":
        raise ApiError(404, "hold_not_found", f"This hold was {hold['hold_status']} already.",
                       {"hold_id": hold_id, "hold_status": hold["hold_status"]})
    return await enqueue_request(request, principal, hold["event_id"], "release",
                                 {"hold_id": hold_id})


async def _owned_hold(request: web.Request, hold_id: str, principal: Principal) -> dict[str, Any]:
    try:
        state = await _request_state(request, hold_id, principal)
    except ApiError:
        raise ApiError(
            404, "hold_not_found", "No live hold with this id for you.", {"hold_id": hold_id}
        ) from None
    if state["kind"] not in ("hold", "offer") or state["status"] != "held":
        raise ApiError(
            404, "hold_not_found", "No live hold with this id for you.", {"hold_id": hold_id}
        )
    if state["hold_status"] in ("released", "cancelled"):
        raise ApiError(
            404, "hold_not_found", f"This hold was {state['hold_status']}; reserve again.",
            {"hold_id": hold_id, "hold_status": state["hold_status"]},
        )
    return state


@routes.post("/holds/{hold_id}/purchase")
async def purchase(request: web.Request) -> web.Response:
    """The hold's owner, admitted: pay for the held seats (202, then poll the order)."""
    principal = await require_principal(request)
    hold_id = path_token(request, "hold_id", "hold_not_found", "hold")
    hold = await _owned_hold(request, hold_id, principal)
    await ensure_on_sale(request, hold["event_id"])
    if hold["kind"] != "offer":  # a waiting-list offer stands in for admission
        await require_admission(request, hold["event_id"], principal)
    body = await read_json(request)
    method = body.get("payment_method")
    card = method.get("card_number") if isinstance(method, dict) else None
    if not isinstance(card, str) or not 12 <= len(card.replace(" ", "")) <= 19:
        raise ApiError(
            400,
            "invalid_request",
            "payment_method.card_number: a card number",
            {"field": "payment_method.card_number"},
        )
    if hold["expires_at"] <= time.time():
        raise ApiError(
            410, "hold_expired", "This hold has expired; reserve again.", {"hold_id": hold_id}
        )
    booking = request.app[BOOKING_KEY]
    order_id = order_id_for(hold_id)
    order_key = booking.keys.order(order_id)
    existing = {k.decode(): v.decode() for k, v in (await booking.redis.hgetall(order_key)).items()}
    if existing and existing.get("status") not in ("declined",):
        return _order_accepted(public_order(existing))
    attempt = int(existing.get("attempt") or 0) + 1
    fields: dict[str, Any] = {
        "order_id": order_id,
        "hold_id": hold_id,
        "event_id": hold["event_id"],
        "buyer_id": principal.user_id,
        "amount_cents": hold["total_cents"],
        "status": "authorizing",
        "attempt": attempt,
        # The card number goes no further than the gateway's tokenizer.
        "payment_token": booking.gateway.tokenize(card),
        "card_last4": card.replace(" ", "")[-4:],
        "error": "",
        # A hold recovered from Postgres after a Redis loss lists seat ids, not seats.
        "seat_ids": json.dumps([s["seat_id"] for s in hold.get("seats", [])]
                               or hold.get("seat_ids", [])),
    }
    if hold.get("zone_id") is not None:
        fields["zone_id"] = json.dumps(hold["zone_id"])
        fields["quantity"] = json.dumps(hold["quantity"])
    job = authorize_job(booking.keys, order_id, attempt)
    async with booking.redis.pipeline(transaction=False) as pipe:  # many slots: no MULTI
        pipe.hset(order_key, mapping={k: str(v) for k, v in fields.items()})
        pipe.expire(order_key, 7 * 24 * 3600)
        job.write(pipe)
        await pipe.execute()
    # Queued once the order and the job are written (Followup.write says why).
    async with booking.redis.pipeline(transaction=False) as pipe:
        job.queue(pipe)
        await pipe.execute()
    return _order_accepted(public_order({k: str(v) for k, v in fields.items()}))


def _order_accepted(order: dict[str, Any]) -> web.Response:
    order_id = order["order_id"]
    return web.json_response(
        {**order, "status_url": f"/orders/{order_id}", "events_url": f"/orders/{order_id}/events"},
        status=202,
        headers={"Location": f"/orders/{order_id}"},
    )


async def _order_state(request: web.Request, order_id: str, principal: Principal) -> dict[str, Any]:
    booking = request.app[BOOKING_KEY]
    raw = await booking.redis.hgetall(booking.keys.order(order_id))
    order = {k.decode(): v.decode() for k, v in raw.items()}
    if not order or (int(order["buyer_id"]) != principal.user_id and principal.role != "ops"):
        raise ApiError(404, "order_not_found", "No such order for you.", {"order_id": order_id})
    return public_order(order)


@routes.post("/orders/{order_id}/refund")
async def refund_order(request: web.Request) -> web.Response:
    """Ops (customer service): refund a paid order. The event's partition decides it in queue
    order (order refunded, tickets void, seats back on sale), then the payments worker gives
    the money back and the fan is told by mail. 202, then poll the request."""
    principal = await require_principal(request, "ops")
    order_id = path_token(request, "order_id", "order_not_found", "order")
    payment = await refundable_payment(request, order_id)
    return await enqueue_request(request, principal, payment.event_id, "refund",
                          {"order_id": order_id})


async def refundable_payment(request: web.Request, order_id: str) -> OrderPayment:
    """The order's payment if it can be refunded now: 404 `order_not_found`, or 409
    `order_not_refundable` for an order that is not paid or whose event was cancelled."""
    payment = await asyncio.to_thread(order_payment, request.app[DB_ENGINE_KEY], order_id)
    if payment is None:
        raise ApiError(404, "order_not_found", "No such order.", {"order_id": order_id})
    if payment.status != "paid" or payment.event_status == "cancelled":
        reason = ("its event was cancelled: its refund is automatic"
                  if payment.status == "paid" else f"it is {payment.status}")
        raise ApiError(409, "order_not_refundable", f"This order cannot be refunded: {reason}.",
                       {"order_id": order_id, "status": payment.status,
                        "event_status": payment.event_status})
    return payment


@routes.get("/orders/{order_id}")
async def get_order(request: web.Request) -> web.Response:
    """The order's owner (or ops): authorizing, authorized, paid (+ tickets), declined, voided
    or refunded."""
    principal = await require_principal(request)
    order_id = path_token(request, "order_id", "order_not_found", "order")
    return web.json_response(await _order_state(request, order_id, principal))


@routes.get("/orders/{order_id}/events")
async def stream_order(request: web.Request) -> web.StreamResponse:
    """The order's owner: order states as Server-Sent Events, ending with a final one."""
    principal = await require_principal(request)
    order_id = path_token(request, "order_id", "order_not_found", "order")
    booking = request.app[BOOKING_KEY]
    pubsub = booking.redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(booking.keys.order_channel(order_id))
    try:
        state = await _order_state(request, order_id, principal)
        response = await sse_response(request)
        await sse_send(response, state["status"], state)
        deadline = time.monotonic() + SSE_MAX_SECONDS
        hub = request.app[HUB_KEY]
        idle = 0.0
        while (state["status"] not in FINAL_ORDER_STATES and time.monotonic() < deadline
               and not hub.stopping):
            message = await pubsub.get_message(timeout=ORDER_POLL_SECONDS)
            if message is None:
                idle += ORDER_POLL_SECONDS
                if idle < SSE_HEARTBEAT_SECONDS:
                    continue
                idle = 0.0
                await response.write(b": keep-alive\n\n")
            state = await _order_state(request, order_id, principal)
            await sse_send(response, state["status"], state)
        await response.write_eof()
        return response
    finally:
        await pubsub.aclose()


from api.http.openapi_spec import ID_SCHEMA, json_body, ok, operation, param  # noqa: E402

_ACCEPTED = {"type": "object", "properties": {
    "request_id": {"type": "string"}, "status": {"type": "string"},
    "status_url": {"type": "string"}, "events_url": {"type": "string"}}}
_QUANTITY = {"type": "integer", "minimum": 1}
_HOLD_BODY = {"oneOf": [
    {"type": "object", "required": ["seats"], "additionalProperties": False,
     "properties": {"seats": {"type": "array", "minItems": 1,
                              "items": {"type": "integer"}}}},
    {"type": "object", "required": ["best_available"], "additionalProperties": False,
     "properties": {"best_available": {
         "type": "object", "required": ["quantity"], "additionalProperties": False,
         "properties": {"quantity": _QUANTITY, "section_id": ID_SCHEMA,
                        "tier": {"type": "string", "minLength": 1},
                        "max_price_cents": _QUANTITY}}}},
    {"type": "object", "required": ["general_admission"], "additionalProperties": False,
     "properties": {"general_admission": {
         "type": "object", "required": ["zone_id", "quantity"], "additionalProperties": False,
         "properties": {"zone_id": ID_SCHEMA, "quantity": _QUANTITY}}}},
]}
_IDEMPOTENCY = param("Idempotency-Key", "header", {"type": "string", "minLength": 1,
                                                   "maxLength": MAX_IDEMPOTENCY_KEY_LENGTH},
                     "Repeat a request safely: the same key returns the same request.")
_ADMISSION = param("X-Admission-Token", "header", {"type": "string"},
                   "The waiting room's admission token, when the event has a waiting room.")
_SSE = ok({"type": "string"}, "An event stream.", content_type="text/event-stream")
_BOOKING = {"tags": ["Booking"], "signed_in": True}

OPENAPI_PATHS: dict[str, Any] = {
    "/events/{event_id}/reservations": {"post": operation(
        "Hold seats (explicit, best available or standing)",
        who="a signed-in buyer admitted to the event", errors=(400, 401, 403, 404, 409, 429, 503),
        description="Answers 202 at once; the event's partition decides in queue order. "
                    "Poll `status_url` or stream `events_url` for held or rejected.",
        parameters=[param("event_id", "path", ID_SCHEMA, "The event."), _IDEMPOTENCY,
                    _ADMISSION],
        body=json_body(_HOLD_BODY, example={"best_available": {"quantity": 2}}),
        responses={202: ok(_ACCEPTED, "Accepted, pending.")},
        **_BOOKING)},
    "/requests/{request_id}": {"get": operation(
        "A booking request's state", who="the request's owner (or ops)", errors=(401, 404, 503),
        parameters=[param("request_id", "path", {"type": "string"}, "From the 202.")],
        description="A held hold request also says what became of the hold since: "
                    "`hold_status` is active, released, expired, sold, cancelled or refunded. "
                    "If Redis lost the request's record (a restart), the answer comes from "
                    "Postgres (`recovered`: true); a request never decided ends `failed` "
                    "with code `request_lost` (retryable: send it again) once it is 15 s old.",
        responses={200: ok({"type": "object"}, "pending (with `ahead`) or the decision.")},
        **_BOOKING)},
    "/requests/{request_id}/events": {"get": operation(
        "A booking request's states (SSE)", who="the request's owner (or ops)",
        errors=(401, 404, 503),
        parameters=[param("request_id", "path", {"type": "string"}, "From the 202.")],
        responses={200: _SSE}, **_BOOKING)},
    "/holds/{hold_id}": {"delete": operation(
        "Release a hold early", who="the hold's owner", errors=(401, 404, 429, 503),
        parameters=[param("hold_id", "path", {"type": "string"}, "The hold."), _IDEMPOTENCY],
        responses={202: ok(_ACCEPTED, "Accepted, decided in queue order.")}, **_BOOKING)},
    "/holds/{hold_id}/purchase": {"post": operation(
        "Pay for a hold", who="the hold's owner, admitted to the event",
        errors=(400, 401, 403, 404, 410, 503),
        parameters=[param("hold_id", "path", {"type": "string"}, "The hold."), _ADMISSION],
        body=json_body({"type": "object", "required": ["payment_method"], "properties": {
            "payment_method": {"type": "object", "required": ["card_number"], "properties": {
                "card_number": {"type": "string", "minLength": 12, "maxLength": 23}}}}}),
        responses={202: ok({"type": "object"}, "The order, authorizing.")}, **_BOOKING)},
    "/orders/{order_id}": {"get": operation(
        "An order", who="the order's owner (or ops)", errors=(401, 404, 503),
        parameters=[param("order_id", "path", {"type": "string"}, "The order.")],
        responses={200: ok({"type": "object"}, "authorizing, authorized, paid (with "
                               "tickets), declined, voided, or refunded.")},
        **_BOOKING)},
    "/orders/{order_id}/refund": {"post": operation(
        "Refund a paid order", who="ops", errors=(401, 403, 404, 409, 429, 503),
        description="Decided in queue order on the event's partition (order refunded, "
                    "tickets void, seats back on sale); the money goes back through the "
                    "payment gateway and the fan is told by mail. Poll `status_url` for "
                    "refunded or rejected. A cancelled event's orders are refunded "
                    "automatically (409).",
        parameters=[param("order_id", "path", {"type": "string"}, "The order."), _IDEMPOTENCY],
        responses={202: ok(_ACCEPTED, "Accepted, pending.")}, tags=["Booking"],
        signed_in=True)},
    "/orders/{order_id}/events": {"get": operation(
        "An order's states (SSE)", who="the order's owner (or ops)", errors=(401, 404, 503),
        parameters=[param("order_id", "path", {"type": "string"}, "The order.")],
        responses={200: _SSE}, **_BOOKING)},
}
