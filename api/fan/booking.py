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
from api.fan.presale_http import unlocked_tier_params
from api.fan.request_recovery import recovered_state
from api.fan.results_hub import HUB_KEY, sse_response, sse_send
from api.fan.sale_status import ensure_on_sale
from api.http.appkeys import DB_ENGINE_KEY, GATEWAY_KEY, REDIS_KEY, SETTINGS_KEY
from api.http.error_codes import ApiErrorCode, BookingCode, RoomCode
from api.http.errors import ApiError, read_json
from api.http.params import path_id, path_token
from engine.store.etickets import stored_order
from engine.store.order_payments import OrderPayment, order_payment
from waitingroom.wire import text_map
from workers.booking_requests import HOLD_CHOICES, event_of, parse_hold_body
from workers.checkout import PurchaseRequest, start_checkout
from workers.enqueue import IdempotencyConflict, QueueFull, RequestQueue
from workers.gateway import PaymentGateway
from workers.keys import Keys
from workers.partitions import partition_for
from workers.payments import public_order

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
            self._pins = {int(k): v for k, v in text_map(raw).items()}
            self._pins_read_at = time.monotonic()
        return partition_for(event_id, self.partitions, self._pins)


BOOKING_KEY = web.AppKey("booking", Booking)


async def booking_ctx(app: web.Application) -> Any:
    app[BOOKING_KEY] = Booking(app)
    yield


def _event_id(request: web.Request) -> int:
    return path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (
        0 < len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH and key.isascii() and key.isprintable()
    ):
        raise ApiError(ApiErrorCode.INVALID_REQUEST,
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
            ApiErrorCode.QUEUE_FULL,
            "Too many requests are waiting for this event; try again shortly.",
            {"depth": full.depth, "retry_after": RETRY_AFTER_SECONDS},
        ) from None
    except IdempotencyConflict as conflict:
        raise ApiError(
            ApiErrorCode.IDEMPOTENCY_CONFLICT,
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
    params.update(await unlocked_tier_params(request, event_id, principal.user_id,
                                             principal.role == "ops"))
    return await enqueue_request(request, principal, event_id, "hold", params)


async def _request_state(
    request: web.Request, request_id: str, principal: Principal
) -> dict[str, Any]:
    booking = request.app[BOOKING_KEY]
    raw = await booking.redis.hgetall(booking.keys.request(request_id))
    record = text_map(raw)
    if not record:  # never made, or lost with Redis: ask Postgres and the id's age
        recovered = await recovered_state(request, booking.redis, request_id,
                                          principal.user_id, principal.role == "ops")
        if recovered is None:
            raise ApiError(ApiErrorCode.REQUEST_NOT_FOUND, "No such request for you.",
                           {"request_id": request_id})
        if recovered["status"] == "held":
            recovered["hold_status"] = _hold_status(None, recovered.get("expires_at"))
        return recovered
    if int(record["buyer_id"]) != principal.user_id and principal.role != "ops":
        raise ApiError(ApiErrorCode.REQUEST_NOT_FOUND, "No such request for you.",
                       {"request_id": request_id}
        )
    if record["kind"] == "offer" and record["status"] == "done":
        # A standing waiting-list offer: once served, Postgres says `held` even if this
        # record missed the update (its consumer died between the commit and the publish).
        served = await recovered_state(request, booking.redis, request_id, principal.user_id,
                                       principal.role == "ops")
        if served is not None and served["status"] == "held":
            served["hold_status"] = _hold_status(record.get("hold_status"),
                                                 served.get("expires_at"))
            return served
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
    request_id = path_token(request, "request_id", ApiErrorCode.REQUEST_NOT_FOUND, "request")
    try:
        event_of(request_id)
    except Exception:
        raise ApiError(ApiErrorCode.REQUEST_NOT_FOUND,
                       "No such request.", {"request_id": request_id}
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
    hold_id = path_token(request, "hold_id", BookingCode.HOLD_NOT_FOUND, "hold")
    hold = await _owned_hold(request, hold_id, principal)  # not theirs, or gone: 404 now
    if hold["hold_status"] != "active":
        raise ApiError(BookingCode.HOLD_NOT_FOUND, f"This hold was {hold['hold_status']} already.",
                       {"hold_id": hold_id, "hold_status": hold["hold_status"]})
    return await enqueue_request(request, principal, hold["event_id"], "release",
                                 {"hold_id": hold_id})


async def _owned_hold(request: web.Request, hold_id: str, principal: Principal) -> dict[str, Any]:
    try:
        state = await _request_state(request, hold_id, principal)
    except ApiError:
        raise ApiError(BookingCode.HOLD_NOT_FOUND,
                       "No live hold with this id for you.", {"hold_id": hold_id}
        ) from None
    if state["kind"] not in ("hold", "offer") or state["status"] != "held":
        raise ApiError(BookingCode.HOLD_NOT_FOUND,
                       "No live hold with this id for you.", {"hold_id": hold_id}
        )
    if state["hold_status"] in ("released", "cancelled"):
        raise ApiError(BookingCode.HOLD_NOT_FOUND,
                       f"This hold was {state['hold_status']}; reserve again.",
            {"hold_id": hold_id, "hold_status": state["hold_status"]},
        )
    return state


@routes.post("/holds/{hold_id}/purchase")
async def purchase(request: web.Request) -> web.Response:
    """The hold's owner, admitted: pay for the held seats (202, then poll the order)."""
    principal = await require_principal(request)
    hold_id = path_token(request, "hold_id", BookingCode.HOLD_NOT_FOUND, "hold")
    hold = await _owned_hold(request, hold_id, principal)
    await ensure_on_sale(request, hold["event_id"])
    if hold["kind"] != "offer":  # a waiting-list offer stands in for admission
        await require_admission(request, hold["event_id"], principal)
    purchase_request = PurchaseRequest.from_json(await read_json(request))
    booking = request.app[BOOKING_KEY]
    order = await start_checkout(booking.redis, booking.keys, booking.gateway, hold_id=hold_id,
                                 hold=hold, buyer_id=principal.user_id,
                                 purchase=purchase_request, now=time.time())
    return _order_accepted(order)


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
    order = text_map(raw)
    if not order:
        return await _stored_order_state(request, order_id, principal)
    if int(order["buyer_id"]) != principal.user_id and principal.role != "ops":
        raise ApiError(BookingCode.ORDER_NOT_FOUND,
                       "No such order for you.", {"order_id": order_id})
    return public_order(order)


async def _stored_order_state(request: web.Request, order_id: str,
                              principal: Principal) -> dict[str, Any]:
    """An order whose checkout record is not in Redis (lost with it): what Postgres says,
    marked `"from": "database"` (no attempt count, error or card digits there)."""
    stored = await asyncio.to_thread(stored_order, request.app[DB_ENGINE_KEY], order_id)
    if stored is None or (stored["buyer_id"] != principal.user_id and principal.role != "ops"):
        raise ApiError(BookingCode.ORDER_NOT_FOUND,
                       "No such order for you.", {"order_id": order_id})
    shown = {key: value for key, value in stored.items() if key != "buyer_id"}
    return {**shown, "attempt": 0, "from": "database"}


@routes.post("/orders/{order_id}/refund")
async def refund_order(request: web.Request) -> web.Response:
    """Ops (customer service): refund a paid order. The event's partition decides it in queue
    order (order refunded, tickets void, seats back on sale), then the payments worker gives
    the money back and the fan is told by mail. 202, then poll the request."""
    principal = await require_principal(request, "ops")
    order_id = path_token(request, "order_id", BookingCode.ORDER_NOT_FOUND, "order")
    payment = await refundable_payment(request, order_id)
    return await enqueue_request(request, principal, payment.event_id, "refund",
                          {"order_id": order_id})


async def refundable_payment(request: web.Request, order_id: str) -> OrderPayment:
    """The order's payment if it can be refunded now: 404 `order_not_found`, or 409
    `order_not_refundable` for an order that is not paid or whose event was cancelled."""
    payment = await asyncio.to_thread(order_payment, request.app[DB_ENGINE_KEY], order_id)
    if payment is None:
        raise ApiError(BookingCode.ORDER_NOT_FOUND, "No such order.", {"order_id": order_id})
    if payment.status != "paid" or payment.event_status == "cancelled":
        reason = ("its event was cancelled: its refund is automatic"
                  if payment.status == "paid" else f"it is {payment.status}")
        raise ApiError(ApiErrorCode.ORDER_NOT_REFUNDABLE,
                       f"This order cannot be refunded: {reason}.",
                       {"order_id": order_id, "status": payment.status,
                        "event_status": payment.event_status})
    return payment


@routes.get("/orders/{order_id}")
async def get_order(request: web.Request) -> web.Response:
    """The order's owner (or ops): authorizing, authorized, paid (+ tickets), declined, voided
    or refunded."""
    principal = await require_principal(request)
    order_id = path_token(request, "order_id", BookingCode.ORDER_NOT_FOUND, "order")
    return web.json_response(await _order_state(request, order_id, principal))


@routes.get("/orders/{order_id}/events")
async def stream_order(request: web.Request) -> web.StreamResponse:
    """The order's owner: order states as Server-Sent Events, ending with a final one."""
    principal = await require_principal(request)
    order_id = path_token(request, "order_id", BookingCode.ORDER_NOT_FOUND, "order")
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


from api.http.body_schema import object_schema  # noqa: E402
from api.http.openapi_spec import (  # noqa: E402
    ID_SCHEMA,
    OperationCommon,
    json_body,
    ok,
    operation,
    param,
)

_ACCEPTED = {"type": "object", "properties": {
    "request_id": {"type": "string"}, "status": {"type": "string"},
    "status_url": {"type": "string"}, "events_url": {"type": "string"}}}
_HOLD_BODY = {"oneOf": [object_schema(choice) for choice in HOLD_CHOICES]}
_IDEMPOTENCY = param("Idempotency-Key", "header", {"type": "string", "minLength": 1,
                                                   "maxLength": MAX_IDEMPOTENCY_KEY_LENGTH},
                     "Repeat a request safely: the same key returns the same request.")
_ADMISSION = param("X-Admission-Token", "header", {"type": "string"},
                   "The waiting room's admission token, when the event has a waiting room.")
_SSE = ok({"type": "string"}, "An event stream.", content_type="text/event-stream")
_BOOKING = OperationCommon(tags=["Booking"], signed_in=True)

OPENAPI_PATHS: dict[str, Any] = {
    "/events/{event_id}/reservations": {"post": operation(
        "Hold seats (explicit, best available or standing)",
        who="a signed-in buyer admitted to the event",
        errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
                RoomCode.NOT_ADMITTED, ApiErrorCode.EVENT_NOT_FOUND, ApiErrorCode.EVENT_NOT_ON_SALE,
                ApiErrorCode.IDEMPOTENCY_CONFLICT, ApiErrorCode.QUEUE_FULL),
        description="Answers 202 at once; the event's partition decides in queue order. "
                    "Poll `status_url` or stream `events_url` for held or rejected.",
        parameters=[param("event_id", "path", ID_SCHEMA, "The event."), _IDEMPOTENCY,
                    _ADMISSION],
        body=json_body(_HOLD_BODY, example={"best_available": {"quantity": 2}}),
        responses={202: ok(_ACCEPTED, "Accepted, pending.")},
        **_BOOKING)},
    "/requests/{request_id}": {"get": operation(
        "A booking request's state", who="the request's owner (or ops)",
        errors=(ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN, ApiErrorCode.REQUEST_NOT_FOUND),
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
        errors=(ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN, ApiErrorCode.REQUEST_NOT_FOUND),
        parameters=[param("request_id", "path", {"type": "string"}, "From the 202.")],
        responses={200: _SSE}, **_BOOKING)},
    "/holds/{hold_id}": {"delete": operation(
        "Release a hold early", who="the hold's owner",
        errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
                BookingCode.HOLD_NOT_FOUND, ApiErrorCode.REQUEST_NOT_FOUND,
                ApiErrorCode.IDEMPOTENCY_CONFLICT, ApiErrorCode.QUEUE_FULL),
        parameters=[param("hold_id", "path", {"type": "string"}, "The hold."), _IDEMPOTENCY],
        responses={202: ok(_ACCEPTED, "Accepted, decided in queue order.")}, **_BOOKING)},
    "/holds/{hold_id}/purchase": {"post": operation(
        "Pay for a hold", who="the hold's owner, admitted to the event",
        errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
                RoomCode.NOT_ADMITTED, ApiErrorCode.EVENT_NOT_FOUND, BookingCode.HOLD_NOT_FOUND,
                ApiErrorCode.REQUEST_NOT_FOUND, ApiErrorCode.EVENT_NOT_ON_SALE,
                BookingCode.HOLD_EXPIRED),
        parameters=[param("hold_id", "path", {"type": "string"}, "The hold."), _ADMISSION],
        body=json_body(object_schema(PurchaseRequest, closed=False)),
        responses={202: ok({"type": "object"}, "The order, authorizing.")}, **_BOOKING)},
    "/orders/{order_id}": {"get": operation(
        "An order", who="the order's owner (or ops)",
        errors=(ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN, BookingCode.ORDER_NOT_FOUND),
        parameters=[param("order_id", "path", {"type": "string"}, "The order.")],
        responses={200: ok({"type": "object"}, "authorizing, authorized, paid (with "
                               "tickets), declined, voided, or refunded.")},
        **_BOOKING)},
    "/orders/{order_id}/refund": {"post": operation(
        "Refund a paid order", who="ops",
        errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
                BookingCode.ORDER_NOT_FOUND, ApiErrorCode.IDEMPOTENCY_CONFLICT,
                ApiErrorCode.ORDER_NOT_REFUNDABLE, ApiErrorCode.QUEUE_FULL),
        description="Decided in queue order on the event's partition (order refunded, "
                    "tickets void, seats back on sale); the money goes back through the "
                    "payment gateway and the fan is told by mail. Poll `status_url` for "
                    "refunded or rejected. A cancelled event's orders are refunded "
                    "automatically (409).",
        parameters=[param("order_id", "path", {"type": "string"}, "The order."), _IDEMPOTENCY],
        responses={202: ok(_ACCEPTED, "Accepted, pending.")}, tags=["Booking"],
        signed_in=True)},
    "/orders/{order_id}/events": {"get": operation(
        "An order's states (SSE)", who="the order's owner (or ops)",
        errors=(ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN, BookingCode.ORDER_NOT_FOUND),
        parameters=[param("order_id", "path", {"type": "string"}, "The order.")],
        responses={200: _SSE}, **_BOOKING)},
}
