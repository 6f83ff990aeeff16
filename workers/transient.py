"""Waiting out a Postgres or Redis restart inside a job instead of failing it.

A payments job that meets a server restarting (connection refused, reset, "the
database system is starting up", Redis loading its AOF) retries its whole body
with backoff for a bounded time. The bodies are idempotent (gateway calls carry
idempotency keys, order writes are upserts), so running one again is safe;
failing it instead would leave an order stuck, or money captured without
tickets, until someone requeued it by hand.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import redis.exceptions
import sqlalchemy.exc

from workers.ports import StoreUnavailable

log = logging.getLogger("onsale.transient")

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    StoreUnavailable,
)
"""Errors of a server that is down or restarting, as opposed to a bug or a refusal."""

FIRST_DELAY_SECONDS = 0.25
MAX_DELAY_SECONDS = 4.0

P = ParamSpec("P")
R = TypeVar("R")


def retry_transient(
    within_seconds: float, sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run the function again on a transient error, backing off, for up to `within_seconds`;
    then the error propagates (and RQ's own retry or failed registry takes over)."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def retried(*args: P.args, **kwargs: P.kwargs) -> R:
            deadline = clock() + within_seconds
            delay = FIRST_DELAY_SECONDS
            while True:
                try:
                    return function(*args, **kwargs)
                except TRANSIENT_ERRORS as error:
                    if clock() + delay > deadline:
                        raise
                    log.warning("%s: %s; retrying in %.2fs", function.__name__,
                                str(error).splitlines()[0][:200] if str(error) else
                                type(error).__name__, delay)
                sleep(delay)
                delay = min(MAX_DELAY_SECONDS, delay * 2)

        return retried

    return decorate
