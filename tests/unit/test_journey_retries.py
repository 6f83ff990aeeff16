"""The Locust fans ride out an outage: a 503 or a dropped connection is tried again after
Retry-After (or a doubling backoff) with jitter. (The retry loop itself runs in the fault
surges: importing Locust here would patch the standard library under the other tests.)

Invariant: a fan's journey survives a server restart with its place and hold (it retries
instead of abandoning them), and a retry never comes before the server's Retry-After.
"""

from __future__ import annotations

import random

from loadtests.journeys.retrying import retry_delay_seconds


class _Answer:
    def __init__(self, status_code: int, retry_after: str | None = None) -> None:
        self.status_code = status_code
        self.headers = {"Retry-After": retry_after} if retry_after else {}


def test_the_delay_honours_retry_after_and_adds_at_most_half_again() -> None:
    rng = random.Random(7)
    for _ in range(50):
        assert 2.0 <= retry_delay_seconds(_Answer(503, "2"), 0, rng) <= 3.0
    assert 0.5 <= retry_delay_seconds(_Answer(0), 0, rng) <= 0.75
    assert 8.0 <= retry_delay_seconds(_Answer(0), 10, rng) <= 12.0, "the backoff is capped"
    assert retry_delay_seconds(_Answer(503, "600"), 0, rng) <= 15.0, "Retry-After is capped"
