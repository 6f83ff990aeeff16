"""A batch that loads many events' seats renews the partition lease between the loads.

Without it, a partition serving many events could spend longer than the lease TTL in
one batch (or in its re-run after a takeover), lose the lease mid-batch, and never drain:
the next holder re-ran the same batch with the same loads (seen with 25 events per
partition and the 2 s default on a loaded 2-core machine, 2026-12-05)."""

from __future__ import annotations

import pytest
from redis import Redis
from sqlalchemy import Engine

from engine.pricing import EventSetup
from engine.state import InventoryState
from tests.support.booking import make_event
from workers.consumer import ConsumerConfig, PartitionConsumer
from workers.enqueue import SyncRequestQueue
from workers.keys import Keys
from workers.pg_store import PostgresBookingStore

pytestmark = pytest.mark.integration

PARTITION = "p0"
LEASE_TTL_MS = 3000
LOAD_SECONDS = 1.5
"""What each event load costs on the consumer's clock: three loads outlast the lease."""


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


class SlowLoads(PostgresBookingStore):
    """The real store whose event loads take `LOAD_SECONDS` of the test's clock."""

    def __init__(self, engine: Engine, clock: Clock):
        super().__init__(engine)
        self._clock = clock

    def load_event(self, event_id: int) -> tuple[EventSetup, InventoryState] | None:
        self._clock.now += LOAD_SECONDS
        return super().load_event(event_id)


def test_a_batch_of_many_events_renews_the_lease_between_their_loads(
    redis_client: Redis, redis_prefix: str, db_engine: Engine
) -> None:
    keys = Keys(redis_prefix)
    clock = Clock()
    worker = PartitionConsumer(redis_client, keys, PARTITION, "w1", SlowLoads(db_engine, clock),
                               ConsumerConfig(batch_max=64, lease_ttl_ms=LEASE_TTL_MS),
                               clock=clock)
    assert worker.try_take_over()
    renewals: list[float] = []
    renew = worker.lease.renew

    def counted() -> None:
        renewals.append(clock.now)
        renew()

    worker.lease.renew = counted  # type: ignore[method-assign]
    queue = SyncRequestQueue(redis_client, keys, max_queue_depth=100)
    for buyer, event_id in enumerate(make_event(db_engine) for _ in range(4)):
        queue.enqueue(event_id=event_id, buyer_id=buyer + 1, kind="hold",
                      params={"quantity": 1}, partition=PARTITION)
    started = clock.now
    while redis_client.llen(keys.queue(PARTITION)):
        worker.step()
    assert clock.now - started >= 4 * LOAD_SECONDS
    assert renewals, "four loads of 1.5 s in one batch and the 3 s lease was never renewed"
    gaps = [later - earlier for earlier, later in zip([started, *renewals], renewals, strict=False)]
    assert max(gaps) < LEASE_TTL_MS / 1000
