"""When each fault strikes: one short steady surge per fault, on a fresh event.

One surge per fault keeps every figure attributable: the audit of a run
covers exactly one fault, and each run measures its own pre-fault baseline.
A run is: warm-up (fans arrive, the line forms, bookings start), the baseline
window, the fault (a blow, or `active_seconds` long), then observation long
enough for the stack to recover and for recovery to be seen. Faults judged
on admissions (controller, autopilot) run long enough for a whole admission
window around the fault (a minute; half a minute with --quick).
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
               observe_seconds=20.0, admission_window_seconds=30.0, admissions_per_minute=150.0)
ADMISSION_WINDOW_LEAD_SECONDS = 5.0
"""The admission window opens this long before the fault."""
SEATS_PER_ADMISSION = 3
"""Places per admitted fan the event gets, so no run sells out (fans buy 1-4, some leave)."""


@dataclass(frozen=True)
class FaultRun:
    fault: Fault
    users: int
    spawn_rate: float
    inject_at_seconds: float
    """Seconds after Locust starts."""
    baseline_seconds: float
    run_seconds: int
    admissions_per_minute: float
    seats: int
    admission_window: tuple[float, float] | None
    """(from, to) in seconds after Locust starts, when the fault is judged on admissions."""

    @property
    def fault_ends_at_seconds(self) -> float:
        return self.inject_at_seconds + self.fault.active_seconds


def plan_runs(faults: list[Fault], quick: bool) -> list[FaultRun]:
    sizing = QUICK if quick else FULL
    return [_run(fault, sizing) for fault in faults]


def _run(fault: Fault, sizing: Sizing) -> FaultRun:
    inject_at = sizing.warmup_seconds + sizing.baseline_seconds
    end = inject_at + fault.active_seconds + sizing.observe_seconds
    window = None
    if fault.admission_window:
        opens = inject_at - ADMISSION_WINDOW_LEAD_SECONDS
        window = (opens, opens + sizing.admission_window_seconds)
        end = max(end, window[1] + 1.0)
    run_seconds = math.ceil(end)
    seats = max(100, math.ceil(sizing.admissions_per_minute / 60 * run_seconds
                               * SEATS_PER_ADMISSION))
    return FaultRun(fault=fault, users=sizing.users, spawn_rate=sizing.spawn_rate,
                    inject_at_seconds=inject_at, baseline_seconds=sizing.baseline_seconds,
                    run_seconds=run_seconds, admissions_per_minute=sizing.admissions_per_minute,
                    seats=seats, admission_window=window)


def total_seconds(runs: list[FaultRun], overhead_per_run_seconds: float = 20.0) -> float:
    """About how long the runs take, with set-up, Locust start and audit per run."""
    return sum(run.run_seconds + overhead_per_run_seconds for run in runs)
