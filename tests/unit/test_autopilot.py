"""The admission autopilot against a simulated booking partition.

The plant: admitted fans reach the partition `delay` seconds later; the
partition decides `capacity` requests a second; what it cannot decide queues.
Latency is the queue's drain time plus an M/M/1-like wait below capacity
(steep near saturation, as with random arrivals), measured as the worst of the
last few seconds, as the runner's p99 window does.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from waitingroom.autopilot import (
    AutopilotTargets,
    ControllerState,
    Driver,
    Measurement,
    pressure_of,
    step,
)
from waitingroom.errors import WaitingRoomError

TARGETS = AutopilotTargets(
    target_p99_seconds=0.5,
    target_queue_depth=200,
    min_new_users_per_minute=60,
    max_new_users_per_minute=6000,
)


@dataclass
class Run:
    rates: list[float] = field(default_factory=list)
    queues: list[float] = field(default_factory=list)
    p99s: list[float] = field(default_factory=list)

    def window(self, start: int, end: int) -> list[float]:
        return self.rates[start:end]


def simulate(
    capacity_at: Callable[[int], float],
    seconds: int,
    *,
    start_rate: float = 60.0,
    targets: AutopilotTargets = TARGETS,
    delay: int = 3,
    window: int = 3,
    fans_waiting: Callable[[int], bool] = lambda t: True,
    requests_per_fan: float = 1.0,
) -> Run:
    state = ControllerState.starting_at(start_rate, targets)
    in_flight: deque[float] = deque([0.0] * delay)
    queue = 0.0
    recent: deque[float] = deque(maxlen=window)
    run = Run()
    for t in range(seconds):
        capacity = capacity_at(t)
        in_flight.append(state.rate / 60.0 * requests_per_fan if fans_waiting(t) else 0.0)
        arriving = in_flight.popleft()
        decided = min(queue + arriving, capacity)
        queue += arriving - decided
        latency = 0.005 + queue / capacity
        if arriving < capacity:
            latency += min(math.log(100) / (capacity - arriving), 30.0) * arriving / capacity
        recent.append(latency)
        adjustment = step(
            state, targets, Measurement(max(recent), int(queue), fans_waiting(t)), float(t)
        )
        state = adjustment.state
        run.rates.append(adjustment.rate)
        run.queues.append(queue)
        run.p99s.append(max(recent))
    return run


def swing(values: list[float]) -> float:
    """Peak-to-peak relative to the mean."""
    return (max(values) - min(values)) / (sum(values) / len(values))


def direction_changes(values: list[float], tolerance: float = 0.01) -> int:
    changes, last = 0, 0
    for before, after in zip(values, values[1:], strict=False):
        delta = (after - before) / before
        sign = 0 if abs(delta) < tolerance else (1 if delta > 0 else -1)
        if sign and last and sign != last:
            changes += 1
        last = sign or last
    return changes


def test_step_response_settles_with_p99_at_target() -> None:
    run = simulate(lambda t: 20.0, 240)
    settled = run.window(120, 240)
    assert swing(settled) < 0.05, "settled rate must be steady"
    assert max(run.p99s[120:]) <= TARGETS.target_p99_seconds * 1.1, "p99 kept at the target"
    assert max(run.p99s[120:]) >= TARGETS.target_p99_seconds * 0.8, "not needlessly slow"
    reached = next(t for t, rate in enumerate(run.rates) if rate >= 0.9 * settled[-1])
    assert reached < 90, f"reached 90% of the settled rate after {reached}s"


def test_no_oscillation_after_a_capacity_drop() -> None:
    run = simulate(lambda t: 20.0 if t < 150 else 10.0, 360)
    before, after = run.window(100, 150), run.window(250, 360)
    assert sum(after) / len(after) < 0.6 * sum(before) / len(before), "followed the drop"
    assert swing(after) < 0.05
    assert min(run.rates[150:]) > 0.9 * after[-1], "undershoot under 10%"
    assert direction_changes(run.rates[150:]) <= 3, "no hunting after the step"
    assert max(run.queues) < TARGETS.target_queue_depth, "the queue stays short"


def test_overshoot_of_latency_is_bounded_during_the_ramp() -> None:
    run = simulate(lambda t: 20.0, 240, delay=5)
    assert max(run.p99s) < 3 * TARGETS.target_p99_seconds
    assert swing(run.window(150, 240)) < 0.05


def test_queue_target_bounds_the_queue_when_latency_is_cheap() -> None:
    """A latency target so loose that only the queue drives. Below capacity an empty queue
    says nothing about headroom, so the autopilot probes upward: a bounded sawtooth around
    capacity (50/s = 2500 fans a minute), never a growing queue."""
    targets = AutopilotTargets(target_p99_seconds=60.0, target_queue_depth=20)
    run = simulate(lambda t: 50.0, 400, targets=targets, requests_per_fan=1.2)
    assert max(run.queues) < 4 * targets.target_queue_depth
    assert max(run.queues[300:]) <= max(run.queues[100:200]) + 1, "the swing does not grow"
    late = run.window(200, 400)
    assert 0.6 * 2500 < sum(late) / len(late) < 1.4 * 2500


def test_rate_stays_within_bounds() -> None:
    fast = simulate(lambda t: 10_000.0, 200)
    assert max(fast.rates) == pytest.approx(TARGETS.max_new_users_per_minute)
    slow = simulate(lambda t: 0.2, 200, start_rate=3000)
    assert min(slow.rates) == pytest.approx(TARGETS.min_new_users_per_minute)
    for rate in fast.rates + slow.rates:
        assert TARGETS.min_new_users_per_minute <= rate <= TARGETS.max_new_users_per_minute


def test_no_windup_at_the_maximum() -> None:
    """After a long spell pinned at the maximum, a capacity collapse is answered at once."""
    run = simulate(lambda t: 10_000.0 if t < 300 else 20.0, 340)
    assert run.rates[299] == pytest.approx(TARGETS.max_new_users_per_minute)
    assert run.rates[315] < 0.5 * TARGETS.max_new_users_per_minute


def test_idle_room_holds_the_rate() -> None:
    """Nobody waiting: low latency says nothing about headroom, so the rate is not raised."""
    run = simulate(lambda t: 20.0, 60, start_rate=300, fans_waiting=lambda t: False)
    assert run.rates == [pytest.approx(300.0)] * 60


def test_each_step_is_slew_limited() -> None:
    state = ControllerState.starting_at(600, TARGETS)
    calm = Measurement(p99_seconds=0.001, queue_depth=0, fans_waiting=True)
    first = step(state, TARGETS, calm, 100.0)
    second = step(first.state, TARGETS, calm, 101.0)
    assert second.rate <= first.rate * 1.2 + 1e-9
    overload = Measurement(p99_seconds=30.0, queue_depth=5000, fans_waiting=True)
    third = step(second.state, TARGETS, overload, 102.0)
    assert third.rate >= second.rate / 1.2 - 1e-9
    assert third.driver is Driver.LATENCY


def test_pressure_takes_the_worse_signal() -> None:
    assert pressure_of(Measurement(1.0, 10, True), TARGETS) == (2.0, Driver.LATENCY)
    assert pressure_of(Measurement(0.1, 400, True), TARGETS) == (2.0, Driver.QUEUE)
    assert pressure_of(Measurement(None, 100, True), TARGETS) == (0.5, Driver.QUEUE)


def test_targets_validate_and_overlay() -> None:
    changed = AutopilotTargets.from_mapping({"target_p99_seconds": "0.25"}, base=TARGETS)
    assert changed.target_p99_seconds == 0.25 and changed.target_queue_depth == 200
    for bad in (
        {"target_p99_seconds": 0},
        {"target_queue_depth": 1.5},
        {"min_new_users_per_minute": 100, "max_new_users_per_minute": 50},
        {"target_p99_seconds": True},
        {"surprise": 1},
    ):
        with pytest.raises(WaitingRoomError) as refused:
            AutopilotTargets.from_mapping(bad)
        assert refused.value.code.value == "invalid_config"
