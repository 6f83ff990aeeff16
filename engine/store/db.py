"""Engines and sessions for the store; every process builds one engine and shares it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

POOL_SIZE = 5
POOL_MAX_OVERFLOW = 10
POOL_TIMEOUT_SECONDS = 10.0
POOL_RECYCLE_SECONDS = 1800
STATEMENT_TIMEOUT_MS = 30_000
"""A runaway statement is cancelled rather than holding locks through an on-sale."""
CONNECT_TIMEOUT_SECONDS = 5
UNANSWERED_TCP_MS = 15_000
"""A TCP connection whose sent data goes unacknowledged this long is dropped, as is an idle
one whose keepalives go unanswered (10 s + 3 x 3 s): a Postgres that became unreachable
(no reset ever comes) fails the call instead of hanging it until the OS gives up."""


def make_engine(database_url: str, *, pool_size: int = POOL_SIZE,
                max_overflow: int = POOL_MAX_OVERFLOW, echo: bool = False,
                transaction_pooling: bool = False) -> Engine:
    """An engine with a bounded pool that survives Postgres restarts (pre-ping).

    `transaction_pooling`: Postgres is behind PgBouncer in transaction mode, where
    consecutive transactions may run on different server connections, so psycopg
    must not prepare statements (`prepare_threshold=None`), and no startup options
    are sent (PgBouncer refuses them).
    """
    # PgBouncer refuses the `options` startup parameter: behind it, set statement_timeout
    # on the role (ALTER ROLE ... SET statement_timeout), see docs/scaling.md.
    pooling: dict[str, Any] = (
        {"prepare_threshold": None} if transaction_pooling
        else {"options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"})
    return create_engine(
        database_url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        pool_recycle=POOL_RECYCLE_SECONDS,
        connect_args={"application_name": "onsale",
                      "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                      "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3,
                      "keepalives_count": 3, "tcp_user_timeout": UNANSWERED_TCP_MS,
                      **pooling},
        echo=echo,
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (handlers return them)."""
    return sessionmaker(engine, expire_on_commit=False)
