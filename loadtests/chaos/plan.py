"""When each fault strikes: the surges of a chaos run and the moments in them.

A full run gives every fault a steady surge of its own on a fresh event, so
every figure is attributable: the audit of a surge covers exactly one fault.
`--quick` strikes all the faults one after another in a single surge, spaced
so that each has its own baseline just before it and the stack time to
recover after it; what the stores say (lost or double sales, stuck requests,
money without tickets) is then the one surge's, shared by its faults.

A surge is: warm-up (fans arrive, the line forms, bookings start), then per
fault its baseline window, the fault (a blow, or `active_seconds` long) and
the observation. Faults judged on admissions (controller, autopilot) get a
whole admission window around them (a minute; half a minute with --quick)
in which no other fault strikes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from loadtests.chaos.catalog import Fault


@dataclass(frozen=True)
class Sizing:
    users: int
    spawn_rate: float
    warmup_seconds: float
    baseline_seconds: float
    observe_seconds: float
    admission_window_seconds: float
    admissions_per_minute: float


FULL = Sizing(users=150, spawn_rate=25.0, warmup_seconds=12.0, baseline_seconds=15.0,
              observe_seconds=30.0, admission_window_seconds=60.0, admissions_per_minute=150.0)
QUICK = Sizing(users=100, spawn_rate=25.0, warmup_seconds=10.0, baseline_seconds=8.0,
               observe_seconds=15.0, admission_window_seconds=30.0, admissions_per_minute=150.0)
ADMISSION_WINDOW_LEAD_SECONDS = 5.0
"""The admission window opens this long before the fault."""
SEATS_PER_ADMISSION = 3
"""Places per admitted fan the event gets, so no surge sells out (fans buy 1-4, some leave)."""


@dataclass(frozen=True)
class Strike:
    fault: Fault
    inject_at_seconds: float
    """Seconds after Locust starts."""
    baseline_seconds: float
    admission_window: tuple[float, float] | None
    """(from, to) in seconds after Locust starts, when the fault is judged on admissions."""

    @property
    def fault_ends_at_seconds(self) -> float:
        return self.inject_at_seconds + self.fault.active_seconds


@dataclass(frozen=True)
class SurgePlan:
    name: str
    """The report sub-folder: the fault's name, or `quick` for the packed surge."""
    users: int
    spawn_rate: float
    run_seconds: int
    admissions_per_minute: float
    seats: int
    strikes: tuple[Strike, ...]


def plan_runs(faults: list[Fault], quick: bool) -> list[SurgePlan]:
    if quick:
        return [_surge("quick", faults, QUICK)] if faults else []
    return [_surge(fault.name, [fault], FULL) for fault in faults]


def _surge(name: str, faults: list[Fault], sizing: Sizing) -> SurgePlan:
    strikes = []
    next_at = sizing.warmup_seconds + sizing.baseline_seconds
    end = next_at
    for fault in faults:
        inject_at = next_at
        fault_end = inject_at + fault.active_seconds
        end = fault_end + sizing.observe_seconds
        window = None
        if fault.admission_window:
            opens = inject_at - ADMISSION_WINDOW_LEAD_SECONDS
            window = (opens, opens + sizing.admission_window_seconds)
            end = max(end, window[1] + 1.0)
        strikes.append(Strike(fault, inject_at, sizing.baseline_seconds, window))
        # The next fault's admission window (it opens before that fault) must not see this one.
        next_at = end + ADMISSION_WINDOW_LEAD_SECONDS
    run_seconds = math.ceil(end)
    seats = max(100, math.ceil(sizing.admissions_per_minute / 60 * run_seconds
                               * SEATS_PER_ADMISSION))
    return SurgePlan(name=name, users=sizing.users, spawn_rate=sizing.spawn_rate,
                     run_seconds=run_seconds, admissions_per_minute=sizing.admissions_per_minute,
                     seats=seats, strikes=tuple(strikes))


def total_seconds(surges: list[SurgePlan], overhead_per_surge_seconds: float = 45.0) -> float:
    """About how long the surges take, with set-up, Locust's start and stop, and the audit."""
    return sum(surge.run_seconds + overhead_per_surge_seconds for surge in surges)
