"""Baseline: optimistic concurrency in Postgres, a version check with retry.

Read the best free seats with their versions (no locks), then in one short
transaction compare-and-set each seat: `UPDATE ... WHERE seat_id = ? AND
version = ?`, in seat-id order so two writers never wait on each other in a
cycle. psycopg's pipeline mode sends BEGIN and the updates in one round trip,
and the hold's INSERT with COMMIT in a second. If any seat changed since the
read, roll back and start again from a fresh read, after a short randomized
exponential backoff (full jitter) so the losers of a conflict do not collide
again in lockstep. A read that finds too few free seats is a correct
rejection: committed state only ever loses free seats.
"""

from __future__ import annotations

import asyncio
import random
import time

import psycopg
from psycopg import AsyncConnection, errors

from loadtests.booking import pgseats
from loadtests.booking.contender import CONTENTION, SOLD_OUT, BookingRequest, Decision
from loadtests.booking.pgpool import PooledSeatTableContender
from loadtests.booking.workload import Workload

TABLE = "pgo"
POOL_SIZE = 4
"""Connections per client process (swept on the 2-core bench machine; see docs/benchmarks.md)."""
MAX_ATTEMPTS = 50
BACKOFF_BASE_SECONDS = 0.0005
BACKOFF_CAP_SECONDS = 0.02


_CAS_FUNCTION = """
CREATE OR REPLACE FUNCTION {table}_hold_if_unchanged(
    p_request text, p_buyer bigint, p_seat_ids integer[], p_versions integer[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. array_length(p_seat_ids, 1) LOOP
    UPDATE {table}_seat SET hold_ref = p_request, version = version + 1
     WHERE seat_id = p_seat_ids[i] AND version = p_versions[i];
    IF NOT FOUND THEN
      RAISE EXCEPTION 'seat % changed since it was read', p_seat_ids[i]
        USING ERRCODE = 'serialization_failure';
    END IF;
  END LOOP;
  INSERT INTO {table}_hold (request_id, buyer_id, seat_ids) VALUES (p_request, p_buyer, p_seat_ids);
END
$$
"""
"""Compare-and-set every seat in the given (seat-id) order, then record the hold; any
changed seat aborts the statement, so nothing is half-done."""


class _Conflict(Exception):
    """A seat changed between the read and the compare-and-set."""


class PgOptimisticContender(PooledSeatTableContender):
    name = "pg-optimistic"
    table = TABLE

    def __init__(self, pool_size: int = POOL_SIZE) -> None:
        super().__init__(pool_size)
        self._random = random.Random()
        seat, hold = pgseats.table_names(TABLE)
        self._read_sql = {
            in_section: pgseats.pick_sql(TABLE, in_section=in_section, lock="")
            for in_section in (False, True)
        }
        self._cas_sql = f"SELECT {TABLE}_hold_if_unchanged(%s, %s, %s, %s)"

    def setup(self, workload: Workload, pg_url: str, redis_url: str, redis_prefix: str) -> None:
        super().setup(workload, pg_url, redis_url, redis_prefix)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(_CAS_FUNCTION.format(table=TABLE))

    async def book(self, request: BookingRequest) -> Decision:
        assert self._pool is not None
        read_sql = self._read_sql[request.section_id is not None]
        params = {"section_id": request.section_id, "limit": request.quantity}
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** attempt)
                await asyncio.sleep(self._random.uniform(0.0, ceiling))
            async with self._pool.connection() as conn:
                cursor = await conn.execute(read_sql, params)
                seen = sorted(await cursor.fetchall())
                if len(seen) < request.quantity:
                    return Decision(code=SOLD_OUT, retries=attempt, decided_at=time.monotonic())
                try:
                    await self._compare_and_set(conn, request, seen)
                except _Conflict:
                    continue
            seat_ids = tuple(seat_id for seat_id, _version in seen)
            return Decision(seat_ids=seat_ids, retries=attempt, decided_at=time.monotonic())
        return Decision(code=CONTENTION, retries=MAX_ATTEMPTS - 1, decided_at=time.monotonic())

    async def _compare_and_set(self, conn: AsyncConnection, request: BookingRequest,
                               seen: list[tuple[int, int]]) -> None:
        try:
            await conn.execute(self._cas_sql, (
                request.request_id, request.buyer_id,
                [seat_id for seat_id, _ in seen], [version for _, version in seen],
            ))
        except errors.SerializationFailure:
            raise _Conflict from None
