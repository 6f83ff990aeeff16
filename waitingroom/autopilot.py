"""The admission autopilot: a PI controller that sets `new_users_per_minute` from load.

Ops give targets (booking p99 request-to-decision latency, partition queue
depth) and bounds; once a second the runner measures and calls `step`, which
returns the next admission rate. Pure: no I/O, time comes in as `now`.

Why this shape:
- The controller works on log(rate) and on a log error, `-ln(pressure)`, where
  pressure is the worse of p99/target and depth/target. A multiplicative loop
  behaves the same at 60 and at 60,000 fans a minute, and overload (pressure 4)
  pulls as hard as idleness (pressure 1/4) pushes.
- The plant (a queue) integrates load, so an I-only loop would oscillate; the
  proportional term damps it. The error is clipped to [-1, 1] and small errors
  (the deadband) are ignored, so noise does not make the rate hunt.
- Anti-windup: the integrator is clamped to the bounds, and it does not grow
  while the rate is not what limits admissions (nobody is waiting): a quiet
  pre-sale must not leave the autopilot at its maximum when the surge arrives.
- Each step may change the rate by at most `max_step_ratio` per second, so one
  bad sample cannot swing admissions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from enum import Enum
from typing import Annotated, Any

from waitingroom.errors import ErrorCode, WaitingRoomError

MAX_STEP_GAP_SECONDS = 5.0
"""A longer pause between steps (runner restarted) integrates no more than this."""
MIN_PRESSURE = 1e-6


class Driver(str, Enum):
    """What decided the last step (shown on the dashboard)."""

    LATENCY = "latency"
    QUEUE = "queue"
    IDLE = "idle"
    """Nobody waiting: the rate is not what limits admissions, so it is held."""
    AT_MIN = "at_min"
    AT_MAX = "at_max"


@dataclass(frozen=True, slots=True)
class AutopilotTargets:
    target_p99_seconds: Annotated[float, {"exclusiveMinimum": 0}] = 0.5
    """Booking request-to-decision p99 to keep under."""
    target_queue_depth: Annotated[int, {"minimum": 1}] = 200
    """Requests waiting on the event's partition queue to keep under."""
    min_new_users_per_minute: Annotated[float, {"minimum": 1}] = 60.0
    max_new_users_per_minute: float = 6000.0

    def __post_init__(self) -> None:
        _check(
            math.isfinite(self.target_p99_seconds) and self.target_p99_seconds > 0,
            "target_p99_seconds",
            "must be more than zero",
        )
        _check(self.target_queue_depth >= 1, "target_queue_depth", "must be at least 1")
        _check(
            math.isfinite(self.min_new_users_per_minute) and self.min_new_users_per_minute >= 1,
            "min_new_users_per_minute",
            "must be at least 1",
        )
        _check(
            math.isfinite(self.max_new_users_per_minute)
            and self.max_new_users_per_minute >= self.min_new_users_per_minute,
            "max_new_users_per_minute",
            "must be at least min_new_users_per_minute",
        )

    def clamp(self, rate: float) -> float:
        return min(max(rate, self.min_new_users_per_minute), self.max_new_users_per_minute)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], base: AutopilotTargets | None = None
    ) -> AutopilotTargets:
        """Overlay JSON-ish values on `base`; unknown or malformed fields raise `invalid_config`."""
        names = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, raw in data.items():
            if name not in names:
                raise WaitingRoomError(
                    ErrorCode.INVALID_CONFIG, f"unknown field {name}", {"field": name}
                )
            if isinstance(raw, bool):
                raise _invalid(name)
            try:
                values[name] = int(raw) if name == "target_queue_depth" else float(raw)
            except (TypeError, ValueError):
                raise _invalid(name) from None
            if name == "target_queue_depth" and float(raw) != values[name]:
                raise _invalid(name)
        return replace(base if base is not None else cls(), **values)


@dataclass(frozen=True, slots=True)
class Gains:
    kp: float = 0.2
    """Proportional gain on the log error (damps the queue's integrating response)."""
    ki: float = 0.05
    """Integral gain per second: far under target the rate grows by ~5% a second."""
    max_step_ratio: float = 0.2
    """Largest change of the rate in one second (+20% or -17%)."""
    deadband: float = 0.05
    """Log errors smaller than this (pressure within ~5% of 1) count as on target."""


DEFAULT_GAINS = Gains()


@dataclass(frozen=True, slots=True)
class Measurement:
    p99_seconds: float | None
    """Booking request-to-decision p99 over the last seconds; None without decisions."""
    queue_depth: int
    fans_waiting: bool
    """True when fans wait in line, i.e. the admission rate is what limits admissions."""


@dataclass(frozen=True, slots=True)
class ControllerState:
    integral: float
    """The integrator, in ln(users per minute)."""
    rate: float
    """The last rate set, users per minute."""
    at: float | None = None

    @classmethod
    def starting_at(cls, rate: float, targets: AutopilotTargets) -> ControllerState:
        """Engage bumplessly: the autopilot continues from the rate in force."""
        clamped = targets.clamp(rate)
        return cls(math.log(clamped), clamped, None)


@dataclass(frozen=True, slots=True)
class Adjustment:
    rate: float
    """The new `new_users_per_minute`."""
    pressure: float
    """max(p99 / target, depth / target): 1 is on target, above is overload."""
    driver: Driver
    state: ControllerState


def pressure_of(measurement: Measurement, targets: AutopilotTargets) -> tuple[float, Driver]:
    by_queue = measurement.queue_depth / targets.target_queue_depth
    if measurement.p99_seconds is None:
        return by_queue, Driver.QUEUE
    by_latency = measurement.p99_seconds / targets.target_p99_seconds
    if by_latency >= by_queue:
        return by_latency, Driver.LATENCY
    return by_queue, Driver.QUEUE


def step(
    state: ControllerState,
    targets: AutopilotTargets,
    measurement: Measurement,
    now: float,
    gains: Gains = DEFAULT_GAINS,
) -> Adjustment:
    """The next admission rate for this measurement."""
    dt = 0.0 if state.at is None else min(max(now - state.at, 0.0), MAX_STEP_GAP_SECONDS)
    pressure, driver = pressure_of(measurement, targets)
    error = min(max(-math.log(max(pressure, MIN_PRESSURE)), -1.0), 1.0)
    if abs(error) < gains.deadband:
        error = 0.0
    if error > 0 and not measurement.fans_waiting:
        error, driver = 0.0, Driver.IDLE
    low = math.log(targets.min_new_users_per_minute)
    high = math.log(targets.max_new_users_per_minute)
    integral = min(max(state.integral + gains.ki * error * dt, low), high)
    wanted = integral + gains.kp * error
    previous = math.log(targets.clamp(state.rate))
    max_change = math.log1p(gains.max_step_ratio) * max(dt, 1.0)
    output = min(max(wanted, previous - max_change, low), previous + max_change, high)
    if output >= high and error > 0:
        driver = Driver.AT_MAX
    elif output <= low and error < 0:
        driver = Driver.AT_MIN
    rate = targets.clamp(math.exp(output))
    return Adjustment(rate, pressure, driver, ControllerState(integral, rate, now))


def _invalid(field: str) -> WaitingRoomError:
    return WaitingRoomError(
        ErrorCode.INVALID_CONFIG, f"{field} has an invalid value", {"field": field}
    )


def _check(ok: bool, field: str, reason: str) -> None:
    if not ok:
        raise WaitingRoomError(ErrorCode.INVALID_CONFIG, f"{field} {reason}", {"field": field})
