"""A fan asking about a request whose Redis record was lost (a Redis restart) is never left
polling a 404: a decided request is answered from Postgres, an undecided one is pending
for a grace period, then `failed` with code `request_lost` (retryable).

Invariant: every request that got a 202 reaches a final state, also after a Redis loss.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis import Redis

from api.fan.request_recovery import LOST_AFTER_SECONDS
from api.launcher.settings import Settings
from tests.e2e.test_booking_http import (  # noqa: F401  (fixtures used by name)
    backend,
    engine,
    event_id,
    fan_holding,
    gateway,
    signed_in,
)
from workers.booking_requests import enqueued_at_of, new_request_id
from workers.enqueue import SyncRequestQueue
from workers.keys import RQ_JOB_PREFIX, Keys
from workers.partitions import partition_for

pytestmark = pytest.mark.e2e


def _forget(redis: Redis, settings: Settings, request_id: str) -> None:
    """What a Redis restart that lost the request does: record and job gone."""
    redis.delete(Keys(settings.redis_prefix).request(request_id), RQ_JOB_PREFIX + request_id)


def test_request_ids_carry_their_enqueue_time() -> None:
    made = new_request_id(7, now=1_800_000_000.123)
    assert made.startswith("7-t") and len(made) == len("7-") + 33
    assert enqueued_at_of(made) == pytest.approx(1_800_000_000.123)
    assert enqueued_at_of("7-" + "a" * 32) is None, "ids from before carry no time"
    assert enqueued_at_of("7-t0x1234567890abcdef") is None


async def test_a_decided_request_is_answered_from_postgres(
        client: TestClient[Any, Any], backend: Redis, settings: Settings,  # noqa: F811
        event_id: int) -> None:  # noqa: F811
    fan, accepted, held = await fan_holding(client, event_id, "lost1@example.com", 1)
    assert held["status"] == "held"
    _forget(backend, settings, accepted["request_id"])

    answer = await client.get(accepted["status_url"], headers=fan)
    assert answer.status == 200
    recovered = await answer.json()
    assert recovered["status"] == "held" and recovered["recovered"] is True
    assert recovered["hold_id"] == held["hold_id"] and recovered["hold_status"] == "active"
    stranger = await signed_in(client, "lost1-stranger@example.com")
    assert (await client.get(accepted["status_url"], headers=stranger)).status == 404


async def test_an_undecided_lost_request_ends_failed_and_retryable(
        client: TestClient[Any, Any], redis_client: Redis, settings: Settings,
        event_id: int) -> None:  # noqa: F811
    fan = await signed_in(client, "lost2@example.com")
    buyer_id = (await (await client.get("/me", headers=fan)).json())["id"]
    keys = Keys(settings.redis_prefix)
    queue = SyncRequestQueue(redis_client, keys, settings.max_queue_depth)
    partition = partition_for(event_id, settings.partitions, {})

    def enqueue(age_seconds: float) -> str:
        request_id = new_request_id(event_id, now=time.time() - age_seconds)
        # The queue answers the id it stored: the given one plus the characters that put
        # its RQ job key in the partition's hash slot (workers/slots.py).
        return queue.enqueue(event_id=event_id, buyer_id=buyer_id, kind="hold",
                             params={"best_available": {"quantity": 1}}, partition=partition,
                             request_id=request_id).request_id

    old, fresh = enqueue(LOST_AFTER_SECONDS + 5), enqueue(0)
    queued = await (await client.get(f"/requests/{old}", headers=fan)).json()
    assert queued["status"] == "pending", "its record is there: nothing was lost yet"
    redis_client.delete(keys.request(old))  # the record lost, the job still queued
    assert (await (await client.get(f"/requests/{old}", headers=fan)).json())["status"] \
        == "pending"
    _forget(redis_client, settings, old)
    _forget(redis_client, settings, fresh)

    answer = await client.get(f"/requests/{old}", headers=fan)
    assert answer.status == 200
    lost = await answer.json()
    assert lost["status"] == "failed"
    assert lost["error"]["code"] == "request_lost" and lost["error"]["details"]["retryable"]

    young = await client.get(f"/requests/{fresh}", headers=fan)
    assert (await young.json())["status"] == "pending", "a consumer may still publish it"
    assert young.headers["Retry-After"] == "1"

    stream = await client.get(f"/requests/{old}/events", headers=fan)
    assert "event: failed" in await stream.text(), "the stream ends on the final state"

    never = await client.get(f"/requests/{event_id}-{'b' * 32}", headers=fan)
    assert never.status == 404, "an id that carries no time is unknown, as before"
