"""Baseline: pessimistic row locks in Postgres, the way a careful team writes it.

One statement per booking, run as its own transaction on a pooled connection:
pick the best free seats `FOR UPDATE SKIP LOCKED` in quality order (so
concurrent buyers take the next free seats instead of queueing behind each
other's locks), assign them and record the hold only if all were got. Locks
live for that single statement, with no client round trip while they are held.

SKIP LOCKED can see too few seats while others hold locks on seats they may
end up not taking. The same statement counts the free seats its snapshot
sees, locked or not: fewer than asked means sold out for good. Otherwise the
request runs once more with a plain `FOR UPDATE`, which waits for those
locks; that second run counts as a retry. Waiting locks are taken in quality
order and SKIP LOCKED never waits, so no deadlock can form.
"""

from __future__ import annotations

import time

from psycopg import errors

from loadtests.booking import pgseats
from loadtests.booking.contender import SOLD_OUT, BookingRequest, Decision
from loadtests.booking.pgpool import PooledSeatTableContender

TABLE = "pgp"
POOL_SIZE = 4
"""Connections per client process (swept on the 2-core bench machine; see docs/benchmarks.md)."""
MAX_DEADLOCK_RETRIES = 5


class PgPessimisticContender(PooledSeatTableContender):
    name = "pg-pessimistic"
    table = TABLE

    def __init__(self, pool_size: int = POOL_SIZE) -> None:
        super().__init__(pool_size)
        self._sql = {
            (in_section, lock): pgseats.hold_best_sql(TABLE, in_section=in_section, lock=lock)
            for in_section in (False, True)
            for lock in ("FOR UPDATE SKIP LOCKED", "FOR UPDATE")
        }

    async def book(self, request: BookingRequest) -> Decision:
        assert self._pool is not None
        in_section = request.section_id is not None
        params = {"section_id": request.section_id, "limit": request.quantity,
                  "request_id": request.request_id, "buyer_id": request.buyer_id}
        retries = 0
        lock = "FOR UPDATE SKIP LOCKED"
        while True:
            try:
                async with self._pool.connection() as conn:
                    cursor = await conn.execute(self._sql[in_section, lock], params)
                    row = await cursor.fetchone()
            except errors.DeadlockDetected:
                if retries >= MAX_DEADLOCK_RETRIES:
                    raise
                retries += 1
                continue
            assert row is not None
            seat_ids, visible_free = row
            if seat_ids is not None:
                return Decision(seat_ids=tuple(seat_ids), retries=retries,
                                decided_at=time.monotonic())
            if lock == "FOR UPDATE" or visible_free < request.quantity:
                return Decision(code=SOLD_OUT, retries=retries, decided_at=time.monotonic())
            lock = "FOR UPDATE"
            retries += 1
