"""How fast this machine is at the few things every contender pays for, next to the figures.

Sessions of this project have run on 2-core machines whose speed differed by 3x,
and one machine's speed drifts within a run. Absolute targets (decisions per
second, a p99 in milliseconds) mean little without knowing which machine made
them, so the booking bench measures four yardsticks at its start and at its end
and prints them with its table:

- `python_loop_ms`: a fixed pure-Python loop (one million additions), the cost of
  interpreted code that the clients, the worker and the API all run;
- `postgres_round_trip_us` and `redis_round_trip_us`: one trivial command, answered;
- `postgres_commit_us`: a one-row insert committed with `synchronous_commit = on`,
  the WAL flush every durable booking waits for.

Compare runs of different days by these first. No test asserts these figures.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
import redis

LOOP_STEPS = 1_000_000
ROUND_TRIPS = 400
COMMITS = 100
TABLE = "onsale_bench_calibration"
REPEATS = 5
"""Each yardstick is timed this many times; the median is kept (a busy moment of the shared
machine does not make it)."""


@dataclass(frozen=True)
class MachineSpeed:
    python_loop_ms: float
    postgres_round_trip_us: float
    redis_round_trip_us: float
    postgres_commit_us: float

    def line(self) -> str:
        return (f"machine: Python {LOOP_STEPS / 1e6:g}M-step loop {self.python_loop_ms:.0f} ms, "
                f"Postgres round trip {self.postgres_round_trip_us:.0f} us, Redis round trip "
                f"{self.redis_round_trip_us:.0f} us, one-row durable commit "
                f"{self.postgres_commit_us:.0f} us")

    def entry(self) -> dict[str, Any]:
        return {name: round(value, 1) for name, value in asdict(self).items()}


def python_loop_seconds(steps: int = LOOP_STEPS) -> float:
    started = time.perf_counter()
    total = 0
    for step in range(steps):
        total += step
    return time.perf_counter() - started


def _median(measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(REPEATS))


def _per_call(call: Callable[[int], object], calls: int) -> Callable[[], float]:
    """A timing of `calls` calls of `call(n)`, in seconds per call."""
    def timed() -> float:
        started = time.perf_counter()
        for n in range(calls):
            call(n)
        return (time.perf_counter() - started) / calls
    return timed


def measure(pg_url: str, redis_url: str) -> MachineSpeed:
    """The four yardsticks against these servers (`pg_url`: a libpq URL of the bench's own
    database, where a table of its own is created and dropped: a temporary table's writes
    are not WAL-logged, so their commits would flush nothing)."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = on")
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(f"CREATE TABLE {TABLE} (n integer)")

        try:
            pg_round_trip = _median(_per_call(
                lambda _: conn.execute("SELECT 1").fetchone(), ROUND_TRIPS))
            pg_commit = _median(_per_call(
                lambda n: conn.execute(f"INSERT INTO {TABLE} VALUES (%s)", (n,)), COMMITS))
        finally:
            conn.execute(f"DROP TABLE IF EXISTS {TABLE}")

    client = redis.Redis.from_url(redis_url)
    try:
        redis_round_trip = _median(_per_call(lambda _: client.ping(), ROUND_TRIPS))
    finally:
        client.close()
    return MachineSpeed(python_loop_ms=_median(python_loop_seconds) * 1e3,
                        postgres_round_trip_us=pg_round_trip * 1e6,
                        redis_round_trip_us=redis_round_trip * 1e6,
                        postgres_commit_us=pg_commit * 1e6)
