"""Checkout without HTTP: the order record and its authorize job, on the real Redis.

Invariants: the card number never reaches Redis (only the gateway's token and the last
four digits); one order per hold, pushed once (a repeat answers the order as it stands;
only a declined order is tried again, as the next attempt); an expired hold writes
nothing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio

from engine.errors import BookingError, ErrorCode
from workers.checkout import PaymentMethod, PurchaseRequest, start_checkout
from workers.gateways.sandbox import TestGateway
from workers.keys import RQ_JOB_PREFIX, RQ_QUEUE_PREFIX, Keys

pytestmark = pytest.mark.integration

CARD = "4242 4242 4242 4242"


@pytest.fixture()
async def client(redis_url: str, redis_client: Any) -> AsyncIterator[redis.asyncio.Redis]:
    # redis_client (sync) deletes the session's keys after the test
    async_client = redis.asyncio.Redis.from_url(redis_url)
    yield async_client
    await async_client.aclose()


def _hold(expires_in: float = 300) -> dict[str, Any]:
    return {"event_id": 41, "expires_at": time.time() + expires_in, "total_cents": 9000,
            "seats": [{"seat_id": 7}, {"seat_id": 8}]}


async def _queued_jobs(client: redis.asyncio.Redis, keys: Keys) -> list[str]:
    raw = await client.lrange(RQ_QUEUE_PREFIX + keys.payments_queue_name(), 0, -1)
    return [job.decode() for job in raw]


async def test_checkout_records_the_order_and_pushes_one_authorize_job(
        client: redis.asyncio.Redis, redis_prefix: str) -> None:
    keys = Keys(f"{redis_prefix}-checkout-{time.monotonic_ns()}")
    purchase = PurchaseRequest(PaymentMethod(CARD))

    order = await start_checkout(client, keys, TestGateway(), hold_id="41-aa", hold=_hold(),
                                 buyer_id=5, purchase=purchase, now=time.time())
    again = await start_checkout(client, keys, TestGateway(), hold_id="41-aa", hold=_hold(),
                                 buyer_id=5, purchase=purchase, now=time.time())

    assert order["order_id"] == "41-aa-o" and order["status"] == "authorizing"
    assert order["amount_cents"] == 9000 and order["card_last4"] == "4242"
    assert again == order, "a repeat answers the order, it does not pay twice"
    stored = {k.decode(): v.decode() for k, v in
              (await client.hgetall(keys.order("41-aa-o"))).items()}
    assert "4242424242424242" not in "".join(stored.values()), "the card number is not stored"
    assert stored["seat_ids"] == "[7, 8]" and stored["buyer_id"] == "5"
    jobs = await _queued_jobs(client, keys)
    assert jobs == ["authorize-41-aa-o-1"]
    assert await client.exists(RQ_JOB_PREFIX + jobs[0])


async def test_a_declined_order_is_tried_again_as_the_next_attempt(
        client: redis.asyncio.Redis, redis_prefix: str) -> None:
    keys = Keys(f"{redis_prefix}-checkout-{time.monotonic_ns()}")
    purchase = PurchaseRequest(PaymentMethod(CARD))
    await start_checkout(client, keys, TestGateway(), hold_id="41-bb", hold=_hold(),
                         buyer_id=5, purchase=purchase, now=time.time())
    await client.hset(keys.order("41-bb-o"), "status", "declined")

    retried = await start_checkout(client, keys, TestGateway(), hold_id="41-bb", hold=_hold(),
                                   buyer_id=5, purchase=purchase, now=time.time())

    assert retried["attempt"] == 2 and retried["status"] == "authorizing"
    assert await _queued_jobs(client, keys) == ["authorize-41-bb-o-1", "authorize-41-bb-o-2"]


async def test_an_expired_hold_writes_nothing(
        client: redis.asyncio.Redis, redis_prefix: str) -> None:
    keys = Keys(f"{redis_prefix}-checkout-{time.monotonic_ns()}")

    with pytest.raises(BookingError) as refused:
        await start_checkout(client, keys, TestGateway(), hold_id="41-cc",
                             hold=_hold(expires_in=-1), buyer_id=5,
                             purchase=PurchaseRequest(PaymentMethod(CARD)), now=time.time())

    assert refused.value.code is ErrorCode.HOLD_EXPIRED
    assert not await client.exists(keys.order("41-cc-o"))
    assert await _queued_jobs(client, keys) == []


@pytest.mark.parametrize("body", [{}, {"payment_method": "4242"},
                                  {"payment_method": {"card_number": "4242"}},
                                  {"payment_method": {"card_number": 4242424242424242}}])
def test_a_purchase_without_a_card_number_is_refused(body: dict[str, Any]) -> None:
    with pytest.raises(BookingError) as refused:
        PurchaseRequest.from_json(body)
    assert refused.value.code is ErrorCode.INVALID_REQUEST
    assert refused.value.details == {"field": "payment_method.card_number"}
