"""Load shapes: an on-sale spike and a steady load, both bounded by users and time.

The plans are pure (`target(elapsed)` -> users and spawn rate, or None to
stop) so they are unit-tested without Locust running; `SurgeShape` feeds
the chosen one to Locust, reading `--users`, `--spawn-rate` and `--run-time`
(`use_common_options`), so `onsale surge` passes the same three numbers for
either shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SPIKE_SHARE = 0.8
"""Of all users, the share that arrives in the opening rush (the rest trickles in)."""
TRICKLE_SHARE_OF_RUN = 0.5
"""The late arrivals spread over this share of the run after the rush."""


@dataclass(frozen=True)
class OnSaleSpike:
    """Most fans arrive within seconds of the queue opening, the rest over the next minutes.

    The rush comes in at the full spawn rate; stragglers join linearly over
    half the run; nobody leaves before the end (fans that finished idle).
    """

    users: int
    spawn_rate: float
    run_seconds: float

    def target(self, elapsed: float) -> tuple[int, float] | None:
        if elapsed >= self.run_seconds:
            return None
        rush = max(1, math.ceil(self.users * SPIKE_SHARE))
        rush_seconds = rush / self.spawn_rate
        late = self.users - rush
        if elapsed < rush_seconds or late <= 0:
            return rush if late > 0 else self.users, self.spawn_rate
        trickle_seconds = max(1.0, self.run_seconds * TRICKLE_SHARE_OF_RUN)
        progress = min(1.0, (elapsed - rush_seconds) / trickle_seconds)
        return rush + math.ceil(late * progress), max(1.0, late / trickle_seconds)


@dataclass(frozen=True)
class SteadyLoad:
    """A constant population ramped up at the spawn rate and held until the end."""

    users: int
    spawn_rate: float
    run_seconds: float

    def target(self, elapsed: float) -> tuple[int, float] | None:
        if elapsed >= self.run_seconds:
            return None
        return self.users, self.spawn_rate


def plan_for(name: str, users: int, spawn_rate: float, run_seconds: float
             ) -> OnSaleSpike | SteadyLoad:
    plan = OnSaleSpike if name == "spike" else SteadyLoad
    return plan(max(1, users), max(0.1, spawn_rate), max(1.0, run_seconds))
