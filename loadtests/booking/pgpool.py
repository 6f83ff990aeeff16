"""Connection helpers shared by the baselines: one async pool per client process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from loadtests.booking import pgseats
from loadtests.booking.contender import Audit

if TYPE_CHECKING:
    from loadtests.booking.workload import Workload

POOL_TIMEOUT_SECONDS = 30.0


async def open_pool(pg_url: str, size: int) -> AsyncConnectionPool[AsyncConnection]:
    """A fixed-size pool of autocommit connections, all connected before the run starts.

    Autocommit: each booking is one statement (its own transaction) or opens an
    explicit `conn.transaction()`, so no connection ever sits idle in a
    transaction. psycopg prepares a statement after it has run a few times.
    """
    pool: AsyncConnectionPool[AsyncConnection] = AsyncConnectionPool(
        pg_url, min_size=size, max_size=size, open=False, timeout=POOL_TIMEOUT_SECONDS,
        kwargs={"autocommit": True},
    )
    await pool.open(wait=True)
    return pool


class PooledSeatTableContender:
    """The lifecycle shared by baselines that keep their seats in a Postgres table of their
    own (`pgseats`) and book through a pool per client process. A subclass names itself,
    its `table` and pool size, and writes `book`; it may extend set-up and clean-up."""

    name = ""
    table = ""

    def __init__(self, pool_size: int) -> None:
        self._pool_size = pool_size
        self._pg_url = ""
        self._capacity = 0
        self._pool: AsyncConnectionPool[AsyncConnection] | None = None

    def setup(self, workload: Workload, pg_url: str, redis_url: str, redis_prefix: str) -> None:
        self._pg_url, self._capacity = pg_url, workload.capacity
        pgseats.create_and_load(pg_url, self.table, workload)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def audit(self) -> Audit:
        return pgseats.audit(self._pg_url, self.table, self._capacity)

    async def open(self, workload: Workload, pg_url: str, redis_url: str,
                   redis_prefix: str) -> None:
        self._pool = await open_pool(pg_url, self._pool_size)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
