"""What every contender of the booking benchmark implements, and what it hands back.

A contender lives in two places. In the harness process it prepares its store
(`setup`), runs whatever server-side process it needs (`start` / `stop`) and
audits the store after the run (`audit`). In each client process a fresh
instance, built by calling the contender class with no arguments, opens its
client side (`open`), decides requests (`book`) and closes (`close`). Both sides
get the same workload, Postgres URL, Redis URL and Redis key prefix, so
nothing needs to be pickled but the class itself.

`book` is a coroutine: the harness runs many buyers per client process on one
event loop. A contender built on a blocking library runs it in its own
thread pool (see `vanilla_rq`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

from loadtests.booking.workload import BookingRequest as BookingRequest
from loadtests.booking.workload import Workload

DEFAULT_REDIS_PREFIX = "onsalebench"
"""Every Redis key the benchmark writes starts with this (RQ's own keys contain it)."""

SOLD_OUT = "sold_out"
"""Rejection code: not enough free seats match the request (the engine's code too)."""
CONTENTION = "contention"
"""Rejection code: a retrying contender gave up after its maximum number of attempts."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one request: seats held, or a rejection code."""

    seat_ids: tuple[int, ...] = ()
    code: str | None = None
    """None when seats are held, else why not (`sold_out`, `contention`, an engine code)."""
    retries: int = 0
    """Extra attempts the contender needed (conflicts, lock misses); 0 when it never retries."""
    decided_at: float | None = None
    """`time.monotonic()` when the decision became durable, if the contender knows it.

    CLOCK_MONOTONIC is shared by every process on the machine, so a worker
    process may stamp it. None means the harness uses the time it received the
    decision, which is what FIFO order is judged by then.
    """

    @property
    def held(self) -> bool:
        return bool(self.seat_ids)


class Audit(NamedTuple):
    """What the contender's store says after the run, read from the store itself."""

    sold: int
    """Distinct seats assigned to a buyer (held counts as sold in this benchmark)."""
    oversold: int
    """Seat assignments beyond the first for a seat, plus assignments of unknown seats."""


@runtime_checkable
class Contender(Protocol):
    name: str

    # Harness process.
    def setup(self, workload: Workload, pg_url: str, redis_url: str, redis_prefix: str) -> None:
        """Create a fresh store holding every seat of the workload as free (drop old state)."""

    def start(self) -> None:
        """Start server-side processes (a worker); return once they take requests."""

    def stop(self) -> None:
        """Stop them and delete the contender's Redis keys; the Postgres tables stay for audit."""

    def audit(self) -> Audit:
        """Count sold and oversold seats from the durable store."""

    # Each client process.
    async def open(self, workload: Workload, pg_url: str, redis_url: str,
                   redis_prefix: str) -> None:
        """Open pools and connections for the buyers of this process."""

    async def book(self, request: BookingRequest) -> Decision:
        """Ask for seats and wait for the decision. Called concurrently by many buyers."""

    async def close(self) -> None:
        """Release what `open` opened."""
