"""The admission step: smooth, exact on average, never over max_active_users, zero when paused."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from waitingroom.config import RoomConfig
from waitingroom.rate import (
    MAX_CARRY_ADMISSIONS,
    MAX_STEP_GAP_SECONDS,
    Limit,
    RateMeter,
    carry_after,
    plan_admissions,
)

START = 1_900_000_000.0
"""A realistic epoch: its float rounding is part of what the step must absorb."""


def config(**changes: object) -> RoomConfig:
    values: dict[str, object] = {
        "opens_at": START - 600,
        "sale_starts_at": START,
        "new_users_per_minute": 600.0,
        "max_active_users": 10**9,
    }
    values.update(changes)
    return RoomConfig.from_mapping(values)


def simulate(
    room: RoomConfig,
    step_seconds: list[float],
    *,
    supply: int = 10**9,
    session_seconds: float | None = None,
) -> tuple[int, list[int], int]:
    """Run the controller's arithmetic; returns (admitted, per-step budgets, peak active)."""
    elapsed, credit, credit_at = 0.0, 0.0, None
    admitted, budgets, peak = 0, [], 0
    sessions: list[float] = []
    for dt in step_seconds:
        elapsed += dt
        now = START + elapsed
        sessions = [end for end in sessions if end > now]
        plan = plan_admissions(
            room, credit=credit, credit_at=credit_at, active_sessions=len(sessions), now=now
        )
        taken = min(plan.budget, supply - admitted)
        admitted += taken
        if session_seconds is not None:
            sessions += [now + session_seconds] * taken
        peak = max(peak, len(sessions))
        budgets.append(plan.budget)
        credit, credit_at = carry_after(plan.credit, taken), float(f"{now:.3f}")  # as stored
    return admitted, budgets, peak


@settings(max_examples=40, deadline=None)
@given(
    per_minute=st.floats(min_value=6, max_value=60_000),
    jitter=st.lists(st.floats(min_value=-0.05, max_value=0.05), min_size=1, max_size=50),
)
def test_average_rate_is_within_two_percent_over_five_minutes(
    per_minute: float, jitter: list[float]
) -> None:
    steps = [0.2 + jitter[i % len(jitter)] for i in range(1500)]
    admitted, _, _ = simulate(config(new_users_per_minute=per_minute), steps)
    expected = per_minute / 60 * sum(steps)
    assert abs(admitted - expected) <= max(0.02 * expected, 1.0), (admitted, expected)


@settings(max_examples=40, deadline=None)
@given(
    per_minute=st.floats(min_value=0, max_value=100_000),
    cap=st.integers(min_value=0, max_value=300),
    session_seconds=st.floats(min_value=0.1, max_value=30),
    steps=st.lists(st.floats(min_value=0.01, max_value=3.0), min_size=1, max_size=300),
)
def test_active_sessions_never_exceed_the_cap(
    per_minute: float, cap: int, session_seconds: float, steps: list[float]
) -> None:
    room = config(new_users_per_minute=per_minute, max_active_users=cap)
    _, _, peak = simulate(room, steps, session_seconds=session_seconds)
    assert peak <= cap, "max_active_users must bound live admitted sessions"


def test_admissions_are_spread_over_sub_second_steps() -> None:
    _, budgets, _ = simulate(config(new_users_per_minute=600), [0.2] * 50)
    assert set(budgets[1:]) == {2}, "600/min in 0.2 s steps is two per step, not a burst a minute"


def test_slow_rates_still_admit_on_schedule() -> None:
    admitted, budgets, _ = simulate(config(new_users_per_minute=3), [0.2] * 1500)
    assert admitted == 15
    assert max(budgets) == 1


def test_paused_admits_nobody_and_accrues_nothing() -> None:
    plan = plan_admissions(
        config(paused=True), credit=0.9, credit_at=START, active_sessions=0, now=START + 60
    )
    assert (plan.budget, plan.credit, plan.limited_by) == (0, 0.0, Limit.PAUSED)


def test_nothing_before_the_sale_starts() -> None:
    plan = plan_admissions(
        config(), credit=0.0, credit_at=START - 10, active_sessions=0, now=START - 1
    )
    assert plan.budget == 0 and plan.limited_by is Limit.NOT_STARTED


def test_room_under_the_cap_limits_the_budget() -> None:
    plan = plan_admissions(
        config(max_active_users=5), credit=0.0, credit_at=START, active_sessions=3, now=START + 1
    )
    assert plan.budget == 2 and plan.limited_by is Limit.MAX_ACTIVE


def test_a_long_gap_does_not_cause_a_stampede() -> None:
    room = config(new_users_per_minute=600)
    plan = plan_admissions(room, credit=0.0, credit_at=START, active_sessions=0, now=START + 120)
    assert plan.budget <= math.ceil(10 * MAX_STEP_GAP_SECONDS) + MAX_CARRY_ADMISSIONS


def test_unspent_credit_is_not_hoarded() -> None:
    assert carry_after(50.7, 0) == MAX_CARRY_ADMISSIONS
    assert carry_after(2.4, 2) == 2.4 - 2
    assert carry_after(0.5, 3) == 0.0


def test_measured_rate_converges_to_the_serving_speed() -> None:
    meter, serving, now = RateMeter(), 0, START
    for _ in range(600):
        now += 0.2
        serving += 3
        meter = meter.observe(serving, now, demand=True)
    assert meter.per_second is not None and abs(meter.per_second - 15.0) < 0.2


def test_idle_seconds_do_not_drag_the_measured_rate_down() -> None:
    meter = RateMeter(per_second=10.0, mark_at=START, mark_serving=100)
    idle = meter.observe(100, START + 30, demand=False)
    assert idle.per_second == 10.0 and idle.mark_at == START + 30
