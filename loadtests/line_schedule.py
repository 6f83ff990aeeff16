"""The polling schedules of a long line, in virtual time, following `waitingroom.shared_line`.

Fan `i` holds place `i` (1..fans); the serving position moves at `rate` places a
second from `serving_at_start`. Fans far back read the shared summary every
`shared_poll_seconds(rate)` and poll their own place when `own_poll_due` says
so; fans near the front poll their own place at the interval the status poll
suggests (`waitingroom.eta.poll_interval_seconds`) and read no summary. Phases
are spread: each fan's first summary read falls at a seeded random moment of its
interval, and the time since its last own poll at that read is spread over one
keep-alive period, as in a line that has been waiting for a while. A fan leaves the schedule when
the serving position reaches them (admitted or skipped).

`schedule` counts, per virtual second of the window, the summary reads and the
own-place polls; `loadtests/bench_scaling.py` sends a sample of each through a
real caching proxy and counts what reaches the origin.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from waitingroom.eta import estimated_wait_seconds, people_ahead, poll_interval_seconds
from waitingroom.shared_line import (
    is_near_front,
    keepalive_seconds,
    own_poll_due,
    shared_poll_seconds,
)


@dataclass(frozen=True)
class LineSchedule:
    fans: int
    seconds: int
    shared_reads: list[int]
    """Summary reads in each virtual second."""
    own_polls: list[int]
    """Own-place polls (each one reaches the origin) in each virtual second."""
    own_polls_near_front: int
    own_polls_keepalive: int

    @property
    def shared_total(self) -> int:
        return sum(self.shared_reads)

    @property
    def own_total(self) -> int:
        return sum(self.own_polls)


def schedule(fans: int, *, rate: float, position_expiry_seconds: float, seconds: int = 60,
             serving_at_start: int = 0, seed: int = 19) -> LineSchedule:
    rng = random.Random(seed)
    shared = [0] * seconds
    own = [0] * seconds
    near_count = keepalive_count = 0
    interval = shared_poll_seconds(rate)
    keepalive = keepalive_seconds(position_expiry_seconds)

    def serving(at: float) -> int:
        return serving_at_start + math.floor(rate * at)

    for position in range(serving_at_start + 1, serving_at_start + fans + 1):
        turn = (position - serving_at_start) / rate if rate > 0 else math.inf
        at = rng.uniform(0.0, interval)
        last_own = at - rng.uniform(interval, keepalive + interval)
        near = False
        while at < min(seconds, turn):
            now_serving = serving(at)
            if not near:
                shared[int(at)] += 1
                if not own_poll_due(position, now_serving, rate,
                                    seconds_since_own_poll=at - last_own,
                                    position_expiry_seconds=position_expiry_seconds):
                    at += interval
                    continue
            near = is_near_front(position, now_serving, rate)
            own[int(at)] += 1
            last_own = at
            if near:
                near_count += 1
                wait = estimated_wait_seconds(people_ahead(position, now_serving),
                                              measured_per_second=rate,
                                              configured_per_second=rate, paused=False)
                at += poll_interval_seconds(wait, position_expiry_seconds=position_expiry_seconds,
                                            jitter_seed=position * 7919 + int(at))
            else:
                keepalive_count += 1
                at += interval
    return LineSchedule(fans, seconds, shared, own, near_count, keepalive_count)
