"""Per-event, per-second counters for the ops dashboard and the autopilot, in Redis.

One hash per event and second holds what happened in that second:

    {prefix}:{ev:42}:ops:s:<epoch second>   hash, expires after SECOND_TTL_SECONDS
        decisions, o:<outcome status>, expiries, declines,
        lat:<bucket index>                 request-to-decision latencies, LATENCY_BUCKETS_SECONDS
        http, http_4xx, http_429, http_5xx  API responses for the event's routes
        g:<name>                            gauges sampled that second (waiting, active, ...)

Writers only HINCRBY (workers, payments, API) or HSET gauges (the samplers), so
any number of processes may write the same second; readers fetch a window of
seconds in one pipeline. A second costs a few dozen small fields, and the keys
carry the event's hash tag so a window of one event lives on one shard.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SECOND_TTL_SECONDS = 900
"""Fifteen minutes of per-second history: what the dashboard charts can show."""

LATENCY_BUCKETS_SECONDS: tuple[float, ...] = (
    0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1,
    0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 30.0,
)  # fmt: skip
"""Upper bounds, about 1.5x apart, so interpolated quantiles are within ~25%."""


def latency_bucket(seconds: float) -> int:
    """Index of the first bucket whose bound holds `seconds`; len(bounds) is +Inf."""
    return bisect.bisect_left(LATENCY_BUCKETS_SECONDS, seconds)


@dataclass(frozen=True, slots=True)
class OpsKeys:
    prefix: str

    def second(self, event_id: int, second: int) -> str:
        return f"{self.prefix}:{{ev:{event_id}}}:ops:s:{second}"

    def autopilot(self, event_id: int) -> str:
        """Hash: `enabled`, the targets, and the controller's state between steps."""
        return f"{self.prefix}:{{ev:{event_id}}}:ops:autopilot"

    def autopilot_lease(self, event_id: int) -> str:
        return f"{self.prefix}:{{ev:{event_id}}}:ops:autopilot:lease"


def add_counts(
    pipe: Any, keys: OpsKeys, event_id: int, second: int, counts: Mapping[str, int]
) -> None:
    """Queue the increments of one event-second on `pipe` (the caller executes it): a
    Redis pipeline, or the publish step's recorder (`workers.publish.Commands`)."""
    key = keys.second(event_id, second)
    for name, amount in counts.items():
        if amount:
            pipe.hincrby(key, name, amount)
    pipe.expire(key, SECOND_TTL_SECONDS)
