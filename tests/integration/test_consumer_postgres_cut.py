"""Partition consumers behind the fault proxy: Postgres cut for longer than the lease, then
back but slow, then well again.

Two real worker processes reach Postgres through `loadtests/faultproxy.py`. While the
requests are being decided the proxy cuts Postgres (open connections reset, new ones
unanswered) for several lease TTLs, so the active consumer loses its lease with a batch
in flight. Postgres comes back slow (each round trip delayed), so the consumer that takes
the partition over outlives its lease again while it re-runs the interrupted batch; then
the delay ends.

Invariant: the partition is decided again and every request reaches a final state, each
decided once. (Before the fix, a lease lost while re-running the batch at take-over left
the consumer believing it held the partition, and no one served it again.) No duration is
asserted: waits are bounded generously and only the outcome is checked.
"""

from __future__ import annotations

import time

import pytest
from redis import Redis
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from loadtests.faultproxy import FaultProxy
from tests.support.booking import make_event
from tests.support.worker_processes import start_worker, wait_until
from workers.enqueue import SyncRequestQueue
from workers.keys import Keys
from workers.lease import lease_holder

pytestmark = pytest.mark.integration

LEASE_TTL_MS = 600
CUT_SECONDS = 4.0
"""Several lease TTLs, and longer than the engine's connect timeout."""
SLOW_MS = 250
SLOW_SECONDS = 6.0
REQUESTS = 300
SETTLE_SECONDS = 120.0


def test_the_partition_is_decided_again_after_a_cut_longer_than_the_lease(
        redis_client: Redis, redis_url: str, redis_prefix: str, database_url: str,
        db_engine: Engine) -> None:
    keys = Keys(redis_prefix)
    event_id = make_event(db_engine, rows=20, seats_per_row=20, buyer_limit=8)
    direct = make_url(database_url)
    proxy = FaultProxy(("127.0.0.1", 0), (direct.host or "127.0.0.1", direct.port or 5432))
    proxy.start()
    through_proxy = direct.set(host="127.0.0.1", port=proxy.port).render_as_string(
        hide_password=False)
    workers = [start_worker(through_proxy, redis_url, redis_prefix,
                                lease_ttl_ms=LEASE_TTL_MS, batch_max=8) for _ in range(2)]
    queue = SyncRequestQueue(redis_client, keys, max_queue_depth=10_000)

    def enqueue(buyers: range) -> list[str]:
        return [queue.enqueue(event_id=event_id, buyer_id=buyer, kind="hold",
                              params={"quantity": 1 + buyer % 3}, partition="p0").request_id
                for buyer in buyers]

    def decisions() -> int:
        return int(redis_client.hget(keys.partition_stats("p0"), "decisions") or 0)

    try:
        wait_until(lambda: lease_holder(redis_client, keys, "p0") is not None, 60, "a lease")
        ids = enqueue(range(REQUESTS))
        wait_until(lambda: decisions() >= 8, 60, "the first decisions")
        proxy.cut()
        ids += enqueue(range(REQUESTS, REQUESTS + 50))  # queued while Postgres is away
        time.sleep(CUT_SECONDS)
        proxy.set_delay(SLOW_MS)
        proxy.restore()
        time.sleep(SLOW_SECONDS)
        proxy.set_delay(0)
        ids += enqueue(range(REQUESTS + 50, REQUESTS + 60))  # after it is well again

        def all_final() -> bool:
            with redis_client.pipeline(transaction=False) as pipe:
                for request_id in ids:
                    pipe.hget(keys.request(request_id), "status")
                return all(s not in (None, b"pending") for s in pipe.execute())

        wait_until(all_final, SETTLE_SECONDS, "every request to reach a final state")
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=15)
        proxy.stop()
    with db_engine.connect() as conn:
        decided = conn.execute(text("SELECT count(*), count(DISTINCT request_id)"
                                    " FROM booking_requests")).one()
        doubles = conn.execute(text("SELECT count(*) FROM (SELECT seat_id FROM seat_claims"
                                    " GROUP BY event_id, seat_id HAVING count(*) > 1) d")
                               ).scalar()
    held = sum(1 for r in ids if redis_client.hget(keys.request(r), "status") == b"held")
    assert decided == (held, held), "every request decided exactly once"
    assert doubles == 0, "a seat was held twice"
