"""The faults `onsale chaos` injects, each with real processes and servers.

A fault names what it does to whom and for how long; the injectors live in
`loadtests.chaos.inject`, keyed by `Fault.name`. Server faults act only on the
stack's own Postgres and Redis (never the machine's shared servers): the run
owns them (`loadtests.fault_stack`), restarts them as part of the fault, and
reaches them through TCP proxies (`needs_proxies`: cut or slowed there). On a
plain `onsale up` stack, restarts signal its embedded servers by their pid in
`processes.json` instead, and proxy faults are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Target(str, Enum):
    API = "api"
    CONSUMER = "consumer"
    PAYMENTS = "payments"
    NOTIFIER = "notifier"
    CONTROLLER = "controller"
    AUTOPILOT = "autopilot"
    REDIS = "redis"
    POSTGRES = "postgres"


@dataclass(frozen=True)
class Fault:
    name: str
    target: Target
    what: str
    """One line for the report: what is done."""
    active_seconds: float = 0.0
    """How long the fault lasts once injected (0: a single blow, e.g. SIGKILL)."""
    needs_proxies: bool = False
    admission_window: bool = False
    """Admissions over a window around the fault are compared with the setting."""


PAUSE_PAST_LEASE_SECONDS = 3.0
"""A paused consumer stays stopped this much longer than its lease lives."""

CATALOG: tuple[Fault, ...] = (
    Fault("api-kill", Target.API, "SIGKILL of one API process while the others serve"),
    Fault("consumer-kill", Target.CONSUMER,
          "SIGKILL of the event's active partition consumer mid-batch"),
    Fault("consumer-pause", Target.CONSUMER,
          "SIGSTOP of the event's active partition consumer past its lease, then SIGCONT",
          active_seconds=2.0 + PAUSE_PAST_LEASE_SECONDS),
    Fault("payments-kill", Target.PAYMENTS,
          "SIGKILL of the payments worker between an authorization and its capture"),
    Fault("notifier-kill", Target.NOTIFIER, "SIGKILL of the notifier with mail to send"),
    Fault("controller-kill", Target.CONTROLLER, "SIGKILL of the admission controller",
          admission_window=True),
    Fault("autopilot-kill", Target.AUTOPILOT,
          "SIGKILL of the autopilot steering the event", admission_window=True),
    Fault("redis-restart", Target.REDIS, "Redis killed (SIGKILL) and restarted (AOF everysec)"),
    Fault("redis-unreachable", Target.REDIS, "Redis unreachable for 10 s (proxy cuts it)",
          active_seconds=10.0, needs_proxies=True),
    Fault("redis-slow", Target.REDIS, "Redis 50-500 ms slower per round trip for 10 s",
          active_seconds=10.0, needs_proxies=True),
    Fault("postgres-restart", Target.POSTGRES, "Postgres restarted (immediate shutdown)"),
    Fault("postgres-unreachable", Target.POSTGRES,
          "Postgres unreachable for 30 s (proxy cuts it)", active_seconds=30.0,
          needs_proxies=True),
    Fault("postgres-slow", Target.POSTGRES, "Postgres 50-500 ms slower per round trip for 10 s",
          active_seconds=10.0, needs_proxies=True),
)

BY_NAME = {fault.name: fault for fault in CATALOG}


class UnknownFault(ValueError):
    pass


def select(names: list[str] | None) -> list[Fault]:
    """The named faults in catalog order (all when `names` is None or empty)."""
    if not names:
        return list(CATALOG)
    unknown = sorted(set(names) - set(BY_NAME))
    if unknown:
        raise UnknownFault(f"unknown fault(s) {', '.join(unknown)}; known: "
                           + ", ".join(BY_NAME))
    wanted = set(names)
    return [fault for fault in CATALOG if fault.name in wanted]
