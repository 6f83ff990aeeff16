"""Baseline: seat locks in Redis (SET NX PX), then one Postgres commit.

The pattern many teams reach for: Postgres is the record, Redis arbitrates.
A booking reads the best free seats from Postgres with some slack (seats
others have locked but not committed yet are still free there), then locks
the first `quantity` it can in one round trip: a named Lua script runs
`SET key token NX PX` down the candidates in quality order and skips seats
someone else holds (Redis' SKIP LOCKED). With all its locks it commits in one
Postgres statement that assigns the seats only if every one of them is still
free, then settles its locks with a second script that checks the token.

Settling keeps the locks of the seats it got, without expiry, as "taken"
markers: a buyer who read such a seat as free just before the commit skips
it instead of locking a seat that is already gone (with expiring holds they
would be deleted at expiry). If the candidates run out, or a seat turned out
to be taken, the locks are released and the booking starts again with twice
the slack, after a short jittered backoff. Lock keys are hash-tagged per event.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from typing import Any

import redis.asyncio as aioredis

from loadtests.booking import pgseats, redisclean
from loadtests.booking.contender import CONTENTION, SOLD_OUT, BookingRequest, Decision
from loadtests.booking.pgpool import PooledSeatTableContender
from loadtests.booking.workload import EVENT_ID, Workload
from workers.redis_packing import with_hiredis_packing

TABLE = "rlk"
POOL_SIZE = 8
"""Postgres connections per client process (swept; see docs/benchmarks.md)."""
LOCK_TTL_MS = 10_000
"""Far longer than any booking takes; an expiring lock would let two buyers in."""
FIRST_SLACK = 64
"""About the number of buyers in flight: enough candidates that most bookings lock on the
first try even when every other buyer holds locks on the seats just ahead."""
MAX_ATTEMPTS = 50
BACKOFF_BASE_SECONDS = 0.0005
BACKOFF_CAP_SECONDS = 0.02

_LOCK_FIRST_FREE = """
local wanted = tonumber(ARGV[1])
local got = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[2], 'NX', 'PX', ARGV[3]) then
    got[#got + 1] = i
    if #got == wanted then break end
  end
end
return got
"""
"""Lock up to ARGV[1] of KEYS in order with token ARGV[2] for ARGV[3] ms; returns their
1-based positions."""

_SETTLE = """
local taken = ARGV[2] == '1'
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    if taken then redis.call('SET', key, 'taken') else redis.call('DEL', key) end
  end
end
return 0
"""
"""Turn our locks (token ARGV[1]) into permanent "taken" markers (ARGV[2] == '1') or
release them."""


class RedisLockContender(PooledSeatTableContender):
    name = "redis-lock"
    table = TABLE

    def __init__(self, pool_size: int = POOL_SIZE) -> None:
        super().__init__(pool_size)
        self._redis_url = self._prefix = ""
        self._redis: aioredis.Redis | None = None
        self._lock_first_free: Any = None
        self._settle: Any = None
        self._random = random.Random()
        seat, hold = pgseats.table_names(TABLE)
        self._candidates_sql = {
            in_section: pgseats.pick_sql(TABLE, in_section=in_section, lock="")
            for in_section in (False, True)
        }
        self._commit_sql = (
            f"WITH still_free AS (SELECT count(*) AS n FROM {seat}"
            "  WHERE seat_id = ANY(%(ids)s) AND hold_ref IS NULL),"
            f" taken AS (UPDATE {seat} SET hold_ref = %(request_id)s, version = version + 1"
            "  WHERE seat_id = ANY(%(ids)s) AND hold_ref IS NULL"
            "  AND (SELECT n FROM still_free) = %(quantity)s RETURNING seat_id),"
            f" recorded AS (INSERT INTO {hold} (request_id, buyer_id, seat_ids)"
            "  SELECT %(request_id)s, %(buyer_id)s, %(ids)s"
            "  WHERE (SELECT n FROM still_free) = %(quantity)s RETURNING 1)"
            " SELECT n FROM still_free"
        )

    def setup(self, workload: Workload, pg_url: str, redis_url: str, redis_prefix: str) -> None:
        self._redis_url, self._prefix = redis_url, redis_prefix
        redisclean.delete_run_keys(redis_url, redis_prefix)
        super().setup(workload, pg_url, redis_url, redis_prefix)

    def stop(self) -> None:
        redisclean.delete_run_keys(self._redis_url, self._prefix)

    async def open(self, workload: Workload, pg_url: str, redis_url: str,
                   redis_prefix: str) -> None:
        self._prefix = redis_prefix
        await super().open(workload, pg_url, redis_url, redis_prefix)
        # Packed in C like onsale's own client: the same Redis client quality for both.
        self._redis = with_hiredis_packing(aioredis.Redis.from_url(redis_url))
        self._lock_first_free = self._redis.register_script(_LOCK_FIRST_FREE)
        self._settle = self._redis.register_script(_SETTLE)

    async def close(self) -> None:
        await super().close()
        if self._redis is not None:
            await self._redis.aclose()

    def _lock_key(self, seat_id: int) -> str:
        return f"{self._prefix}:{{ev:{EVENT_ID}}}:seatlock:{seat_id}"

    async def book(self, request: BookingRequest) -> Decision:
        assert self._pool is not None
        slack = FIRST_SLACK
        token = secrets.token_hex(8)
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** attempt)
                await asyncio.sleep(self._random.uniform(0.0, ceiling))
            async with self._pool.connection() as conn:
                cursor = await conn.execute(
                    self._candidates_sql[request.section_id is not None],
                    {"section_id": request.section_id, "limit": request.quantity + slack},
                )
                candidates = [seat_id for seat_id, _version in await cursor.fetchall()]
            if len(candidates) < request.quantity:
                return Decision(code=SOLD_OUT, retries=attempt, decided_at=time.monotonic())
            locked = await self._lock_some(candidates, request.quantity, token)
            committed = False
            try:
                committed = (len(locked) == request.quantity
                             and await self._commit(request, locked))
            finally:
                if locked:
                    await self._settle(keys=[self._lock_key(s) for s in locked],
                                       args=[token, "1" if committed else "0"])
            if committed:
                return Decision(seat_ids=tuple(sorted(locked)), retries=attempt,
                                decided_at=time.monotonic())
            slack *= 2
        return Decision(code=CONTENTION, retries=MAX_ATTEMPTS - 1, decided_at=time.monotonic())

    async def _lock_some(self, candidates: list[int], quantity: int, token: str) -> list[int]:
        """Lock `quantity` of the candidates, best first, skipping seats others hold."""
        positions = await self._lock_first_free(
            keys=[self._lock_key(seat_id) for seat_id in candidates],
            args=[quantity, token, LOCK_TTL_MS],
        )
        return [candidates[position - 1] for position in positions]

    async def _commit(self, request: BookingRequest, seat_ids: list[int]) -> bool:
        assert self._pool is not None
        async with self._pool.connection() as conn:
            cursor = await conn.execute(self._commit_sql, {
                "ids": sorted(seat_ids), "request_id": request.request_id,
                "buyer_id": request.buyer_id, "quantity": request.quantity,
            })
            row = await cursor.fetchone()
        return row is not None and row[0] == request.quantity
