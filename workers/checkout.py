"""Checkout: record the order for a live hold and push its authorize job.

The API's purchase handler parses the body into a `PurchaseRequest` and calls
`start_checkout`; the payments worker (`workers.payments.authorize_order`) takes it from
there. The card number goes no further than the gateway's tokenizer: the order keeps
the token and the last four digits. Refusals are `BookingError`s with stable codes
(`invalid_request`, `hold_expired`), which the HTTP layer maps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import redis.asyncio as aioredis

from engine.errors import BookingError, ErrorCode
from waitingroom.wire import text_map
from workers.gateway import PaymentGateway
from workers.keys import Keys
from workers.payments import authorize_job, order_id_for, public_order

ORDER_RECORD_TTL_SECONDS = 7 * 24 * 3600
CARD_DIGITS_MIN = 12
CARD_DIGITS_MAX = 19


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    card_number: Annotated[str, {"minLength": CARD_DIGITS_MIN, "maxLength": 23}]
    """The card's number, spaces allowed (12 to 19 digits); only the gateway's tokenizer sees
    it."""


@dataclass(frozen=True, slots=True)
class PurchaseRequest:
    payment_method: PaymentMethod

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> PurchaseRequest:
        method = body.get("payment_method")
        card = method.get("card_number") if isinstance(method, dict) else None
        if (not isinstance(card, str)
                or not CARD_DIGITS_MIN <= len(card.replace(" ", "")) <= CARD_DIGITS_MAX):
            raise BookingError(ErrorCode.INVALID_REQUEST,
                               "payment_method.card_number: a card number",
                               {"field": "payment_method.card_number"})
        return cls(PaymentMethod(card))


def order_fields(hold_id: str, hold: Mapping[str, Any], buyer_id: int, attempt: int,
                 payment_token: str, card_number: str) -> dict[str, str]:
    """The order record (a Redis hash of strings) for `attempt` at paying for the hold."""
    fields: dict[str, Any] = {
        "order_id": order_id_for(hold_id),
        "hold_id": hold_id,
        "event_id": hold["event_id"],
        "buyer_id": buyer_id,
        "amount_cents": hold["total_cents"],
        "status": "authorizing",
        "attempt": attempt,
        "payment_token": payment_token,
        "card_last4": card_number.replace(" ", "")[-4:],
        "error": "",
        # A hold recovered from Postgres after a Redis loss lists seat ids, not seats.
        "seat_ids": json.dumps([s["seat_id"] for s in hold.get("seats", [])]
                               or hold.get("seat_ids", [])),
    }
    if hold.get("zone_id") is not None:
        fields["zone_id"] = json.dumps(hold["zone_id"])
        fields["quantity"] = json.dumps(hold["quantity"])
    return {name: str(value) for name, value in fields.items()}


async def start_checkout(redis: aioredis.Redis, keys: Keys, gateway: PaymentGateway, *,
                         hold_id: str, hold: Mapping[str, Any], buyer_id: int,
                         purchase: PurchaseRequest,
                         now: float) -> dict[str, Any]:
    """Record the order and push its authorize job; the order as the fan sees it. (The
    order and the payments queue sit in several Redis Cluster slots, so no MULTI: the order
    and the job's hash are written first, the job queued after.)

    `hold` is the hold request's state (`event_id`, `expires_at`,
    `total_cents`, `seats` or `zone_id` and `quantity`), already checked to be the
    buyer's and live. Asking again while an order is under way or done answers that
    order; after a decline the order is tried again as the next attempt.
    """
    if hold["expires_at"] <= now:
        raise BookingError(ErrorCode.HOLD_EXPIRED, "This hold has expired; reserve again.",
                           {"hold_id": hold_id})
    order_id = order_id_for(hold_id)
    order_key = keys.order(order_id)
    existing = text_map(await redis.hgetall(order_key))
    if existing and existing.get("status") != "declined":
        return public_order(existing)
    attempt = int(existing.get("attempt") or 0) + 1
    card_number = purchase.payment_method.card_number
    fields = order_fields(hold_id, hold, buyer_id, attempt, gateway.tokenize(card_number),
                          card_number)
    job = authorize_job(keys, order_id, attempt)
    async with redis.pipeline(transaction=False) as pipe:  # many slots: no MULTI
        pipe.hset(order_key, mapping=fields)  # type: ignore[arg-type]  # redis-py's mapping type is invariant
        pipe.expire(order_key, ORDER_RECORD_TTL_SECONDS)
        job.write(pipe)
        await pipe.execute()
    # Queued once the order and the job are written (Followup.write says why).
    async with redis.pipeline(transaction=False) as pipe:
        job.queue(pipe)
        await pipe.execute()
    return public_order(fields)
