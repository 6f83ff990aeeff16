"""Connection helpers shared by the baselines: one async pool per client process."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

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
