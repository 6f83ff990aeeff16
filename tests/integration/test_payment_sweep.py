"""The settle sweep pushes again the capture or void of an authorized order whose sale is
decided but whose job went missing (failed for good in a long outage), and nothing else.

Invariant: every authorized order ends captured with tickets or voided, however long
Postgres or Redis was away (no money held without tickets).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from redis import Redis
from rq.job import Job

from workers.keys import RQ_JOB_PREFIX, RQ_QUEUE_PREFIX, Keys, rq_failed_registry, text
from workers.payment_sweep import GRACE_SECONDS, settle_authorized

pytestmark = pytest.mark.integration

EVENT_ID = 990_001


def authorized(redis: Redis, keys: Keys, name: str, sell: dict[Any, Any] | None,
               since: float) -> str:
    """An order authorized at `since` whose sell request's record is `sell` (None: gone)."""
    order_id = f"{EVENT_ID}-{name}-o"
    sell_id = f"{order_id}-s1"
    redis.hset(keys.order(order_id), mapping={"order_id": order_id, "status": "authorized",
                                              "event_id": EVENT_ID, "sell_request_id": sell_id})
    if sell is not None:
        redis.hset(keys.request(sell_id), mapping=sell)
    redis.zadd(keys.authorized_orders(), {order_id: since})
    return order_id


def job_state(redis: Redis, job_id: str) -> Any:
    return redis.hget(RQ_JOB_PREFIX + job_id, "status")


def test_a_decided_sale_whose_job_failed_for_good_is_settled_again(
        redis_client: Redis, redis_prefix: str) -> None:
    redis, keys = redis_client, Keys(redis_prefix)
    queue = keys.payments_queue_name()
    now = time.time()
    old = now - GRACE_SECONDS - 1
    sold = authorized(redis, keys, f"{redis_prefix}-sold", {"status": "sold", "result": "{}"},
                      old)
    refused = authorized(redis, keys, f"{redis_prefix}-refused", {
        "status": "rejected",
        "result": json.dumps({"error": {"code": "seats_taken", "message": "", "details": {}}})},
        old)
    undecided = authorized(redis, keys, f"{redis_prefix}-undecided", {"status": "pending"}, old)
    record_gone = authorized(redis, keys, f"{redis_prefix}-gone", None, old)
    young = authorized(redis, keys, f"{redis_prefix}-young", {"status": "sold", "result": "{}"},
                       now)
    paid = authorized(redis, keys, f"{redis_prefix}-paid", {"status": "sold", "result": "{}"},
                      old)
    redis.hset(keys.order(paid), "status", "paid")
    # The capture ran out of retries during the outage: RQ's failed registry holds it.
    redis.hset(RQ_JOB_PREFIX + f"capture-{sold}", mapping={"status": "failed", "origin": queue})
    redis.zadd(rq_failed_registry(queue), {f"capture-{sold}": now + 3600})

    pushed = settle_authorized(redis, keys, now)

    assert sorted(pushed) == sorted([f"capture-{sold}", f"void-{refused}"])
    assert redis.lrange(RQ_QUEUE_PREFIX + queue, 0, -1) == [j.encode() for j in pushed]
    assert job_state(redis, f"capture-{sold}") == b"queued"
    assert redis.zscore(rq_failed_registry(queue), f"capture-{sold}") is None
    void = Job.fetch(f"void-{refused}", connection=redis)
    assert (void.func_name, void.args) == ("workers.payments.void_order", (refused, "seats_taken"))
    for untouched in (undecided, record_gone, young):
        assert job_state(redis, f"capture-{untouched}") is None
    members: list[bytes] = list(redis.zrange(keys.authorized_orders(), 0, -1))  # type: ignore[arg-type]
    index = {text(member) for member in members}
    assert paid not in index, "an order no longer authorized leaves the index"
    assert {sold, refused, undecided, record_gone, young} <= index

    assert settle_authorized(redis, keys, now) == [], "a queued job is not pushed twice"
