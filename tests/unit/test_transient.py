"""Payments jobs wait out a server restart: a transient error is retried with backoff
within a bound, anything else (a bug, a refusal) fails at once.

Invariant: a capture that meets a Postgres restart still issues the tickets (no money
without tickets), and a job never retries forever.
"""

from __future__ import annotations

import pytest
import redis.exceptions

from workers.transient import retry_transient


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_transient_error_is_retried_with_growing_delays_until_it_passes() -> None:
    clock = _Clock()
    failures = [redis.exceptions.ConnectionError("refused")] * 3

    @retry_transient(10.0, sleep=clock.sleep, clock=lambda: clock.now)
    def capture() -> str:
        if failures:
            raise failures.pop()
        return "paid"

    assert capture() == "paid"
    assert clock.sleeps == [0.25, 0.5, 1.0]


def test_the_error_propagates_once_the_bound_is_spent() -> None:
    clock = _Clock()

    @retry_transient(3.0, sleep=clock.sleep, clock=lambda: clock.now)
    def capture() -> str:
        raise redis.exceptions.BusyLoadingError("loading the dataset")

    with pytest.raises(redis.exceptions.BusyLoadingError):
        capture()
    assert sum(clock.sleeps) <= 3.0


def test_other_errors_are_not_retried() -> None:
    clock = _Clock()

    @retry_transient(10.0, sleep=clock.sleep, clock=lambda: clock.now)
    def capture() -> str:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        capture()
    assert clock.sleeps == []
