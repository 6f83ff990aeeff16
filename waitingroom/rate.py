"""The admission step and the measured serving rate: how many fans to let in now.

The controller calls `plan_admissions` every ~0.2 s. Admission credit accrues
continuously at `new_users_per_minute / 60` per second and whole units of it
are spent on live fans, so admissions flow smoothly instead of arriving as one
burst per minute, and the long-run rate is exact (the fraction carries over).
Credit that cannot be spent (queue empty, or `max_active_users` reached) is not
hoarded beyond `MAX_CARRY_ADMISSIONS`, so freeing room never causes a stampede.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from waitingroom.config import RoomConfig

MAX_CARRY_ADMISSIONS = 1.0
"""Unspent credit kept between steps. The advance Lua script applies the same cap (carry_after)."""
MAX_STEP_GAP_SECONDS = 2.0
"""A longer gap (controller stalled, lease changing hands) accrues no more than this much credit."""
CREDIT_EPSILON = 1e-3
"""Epoch seconds near 2e9 carry ~1e-7 s of float error, so 0.2 s at 5/s may sum to 0.9999999."""
RATE_SAMPLE_SECONDS = 1.0
RATE_TIME_CONSTANT_SECONDS = 10.0
"""The measured serving rate forgets a past second with weight exp(-1/10)."""


class Limit(str, Enum):
    """What held admissions back in a step (for metrics and the ops dashboard)."""

    RATE = "rate"
    MAX_ACTIVE = "max_active"
    PAUSED = "paused"
    NOT_STARTED = "not_started"
    QUEUE_EMPTY = "queue_empty"
    """Set by the controller: budget left over because nobody live was waiting."""
    STOCK = "stock"
    """Capped by the tickets left (`waitingroom.stock.admission_cap`)."""
    SOLD_OUT = "sold_out"
    """No ticket is free: nobody is admitted."""


@dataclass(frozen=True, slots=True)
class AdmissionPlan:
    budget: int
    """At most this many live fans may be admitted in this step."""
    credit: float
    """Credit available before spending; pass it to `carry_after` with the number admitted."""
    limited_by: Limit


def plan_admissions(
    config: RoomConfig,
    *,
    credit: float,
    credit_at: float | None,
    active_sessions: int,
    now: float,
) -> AdmissionPlan:
    """Accrue credit for the time since the last step (or the sale start) and cap it by the room
    left under max_active_users."""
    if config.paused:
        return AdmissionPlan(0, 0.0, Limit.PAUSED)
    if now < config.sale_starts_at:
        return AdmissionPlan(0, 0.0, Limit.NOT_STARTED)
    accrued_from = (
        config.sale_starts_at if credit_at is None else max(credit_at, config.sale_starts_at)
    )
    elapsed = min(max(now - accrued_from, 0.0), MAX_STEP_GAP_SECONDS)
    available = min(max(credit, 0.0), MAX_CARRY_ADMISSIONS) + config.admissions_per_second * elapsed
    by_rate = math.floor(available + CREDIT_EPSILON)
    room = max(0, config.max_active_users - active_sessions)
    if room < by_rate:
        return AdmissionPlan(room, available, Limit.MAX_ACTIVE)
    return AdmissionPlan(by_rate, available, Limit.RATE)


def cap_by_stock(plan: AdmissionPlan, cap: int | None) -> AdmissionPlan:
    """The plan with its budget held to `cap` fans (None: the stock is not known)."""
    if cap is None or plan.budget <= cap or plan.limited_by is Limit.PAUSED:
        return plan
    return AdmissionPlan(cap, plan.credit, Limit.SOLD_OUT if cap == 0 else Limit.STOCK)


def carry_after(credit: float, admitted: int) -> float:
    """Credit left for the next step after admitting `admitted` fans."""
    return max(0.0, min(credit - admitted, MAX_CARRY_ADMISSIONS))


@dataclass(frozen=True, slots=True)
class RateMeter:
    """An exponentially weighted serving rate (places per second, skipped places included).

    Places, not admissions, because "people ahead" counts places too: the ETA is
    then ahead / rate whatever share of the line has walked away.
    """

    per_second: float | None = None
    mark_at: float | None = None
    mark_serving: int = 0

    def observe(self, serving: int, now: float, *, demand: bool) -> RateMeter:
        """Fold in the serving position seen at `now`.

        `demand` is False while nobody waits or admissions are paused: those
        seconds say nothing about how fast the line moves, so they move the mark
        without changing the estimate.
        """
        if self.mark_at is None or now < self.mark_at:
            return RateMeter(self.per_second, now, serving)
        elapsed = now - self.mark_at
        if elapsed < RATE_SAMPLE_SECONDS:
            return self
        if not demand:
            return RateMeter(self.per_second, now, serving)
        sample = max(serving - self.mark_serving, 0) / elapsed
        if self.per_second is None:
            return RateMeter(sample, now, serving)
        weight = 1.0 - math.exp(-elapsed / RATE_TIME_CONSTANT_SECONDS)
        return RateMeter(self.per_second + weight * (sample - self.per_second), now, serving)
