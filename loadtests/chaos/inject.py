"""The injectors: each strikes its fault at the planned moment and notes what it saw.

Process faults send real signals to the local stack's processes (found by
`loadtests.chaos.procs`): the partition consumer and the autopilot are found
through the lease they hold, the payments worker and the notifier are struck
while they have work in hand. Server faults go through `ServerControls`, the
stack's own Postgres and Redis behind its TCP proxies; a stack without them
skips those faults.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from redis import Redis
from sqlalchemy import Engine, text

from loadtests.chaos import procs
from loadtests.chaos.catalog import Fault
from workers.keys import Keys
from workers.ops_counters import OpsKeys

CONDITION_WAIT_SECONDS = 8.0
"""How long an injector waits for its moment (a batch in flight, a capture pending)."""
CONDITION_POLL_SECONDS = 0.005
TAKEOVER_WAIT_SECONDS = 20.0


class Skipped(Exception):
    """The fault cannot run on this stack; the message says why."""


class ServerControls(Protocol):
    """The stack's own Postgres and Redis, behind TCP proxies it runs on loopback."""

    def restart_redis(self) -> int | None: ...
    def restart_postgres(self) -> int | None: ...
    def cut(self, server: str, seconds: float) -> None: ...
    def slow(self, server: str, low_ms: float, high_ms: float, seconds: float) -> None: ...


@dataclass
class Context:
    data_dir: Path
    redis: Redis
    engine: Engine
    keys: Keys
    event_id: int
    partition: str
    lease_ttl_ms: int
    servers: ServerControls | None = None
    places_before: Callable[[], int] | None = None


@dataclass
class Injection:
    injected_at: float
    """Epoch seconds of the blow."""
    ended_at: float
    """Epoch seconds when the fault stopped acting (the blow itself for a kill)."""
    victim_pid: int | None = None
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


def _signal(pid: int, signum: signal.Signals) -> float:
    os.kill(pid, signum)
    return time.time()


def _wait_for(condition: Callable[[], bool], seconds: float = CONDITION_WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(CONDITION_POLL_SECONDS)
    return False


def _one_pid(ctx: Context, service: str) -> int:
    pids = procs.pids_of(ctx.data_dir, service)
    if not pids:
        raise Skipped(f"no {service} process found in the stack")
    return pids[0]


def _restarted(ctx: Context, service: str, old_pids: set[int], since: float
               ) -> float | None:
    """Seconds until a new process of `service` runs (the supervisor restarted it)."""
    if _wait_for(lambda: bool(set(procs.pids_of(ctx.data_dir, service)) - old_pids),
                 TAKEOVER_WAIT_SECONDS):
        return round(time.time() - since, 2)
    return None


def _kill_service(ctx: Context, service: str, pid: int | None = None) -> Injection:
    before = set(procs.pids_of(ctx.data_dir, service))
    victim = pid if pid is not None else _one_pid(ctx, service)
    at = _signal(victim, signal.SIGKILL)
    injection = Injection(at, at, victim, [f"SIGKILL {service} pid {victim}"
                                           f" ({len(before)} running)"])
    injection.figures["restarted_s"] = _restarted(ctx, service, before, at)
    return injection


def api_kill(ctx: Context) -> Injection:
    return _kill_service(ctx, "api")


def _holder(ctx: Context) -> tuple[int, int]:
    holder = procs.partition_holder(ctx.redis, ctx.keys, ctx.partition)
    if holder is None:
        raise Skipped(f"nobody holds partition {ctx.partition}'s lease")
    return holder


def _took_over(ctx: Context, old_pid: int, since: float) -> float | None:
    def new_holder() -> bool:
        holder = procs.partition_holder(ctx.redis, ctx.keys, ctx.partition)
        return holder is not None and holder[0] != old_pid

    if _wait_for(new_holder, TAKEOVER_WAIT_SECONDS):
        return round(time.time() - since, 2)
    return None


def consumer_kill(ctx: Context) -> Injection:
    pid, token = _holder(ctx)
    inflight = ctx.keys.inflight(ctx.partition)
    mid_batch = _wait_for(lambda: bool(ctx.redis.llen(inflight)))
    at = _signal(pid, signal.SIGKILL)
    injection = Injection(at, at, pid, [
        f"SIGKILL partition {ctx.partition} consumer pid {pid} (token {token}), "
        + ("with a batch in flight" if mid_batch else "no batch in flight within "
           f"{CONDITION_WAIT_SECONDS:.0f}s")])
    injection.figures["mid_batch"] = mid_batch
    injection.figures["took_over_s"] = _took_over(ctx, pid, at)
    return injection


def consumer_pause(ctx: Context, fault: Fault) -> Injection:
    pid, token = _holder(ctx)
    inflight = ctx.keys.inflight(ctx.partition)
    mid_batch = _wait_for(lambda: bool(ctx.redis.llen(inflight)))
    at = _signal(pid, signal.SIGSTOP)
    try:
        took_over = _took_over(ctx, pid, at)
        time.sleep(max(0.0, at + fault.active_seconds - time.time()))
    finally:
        ended = _signal(pid, signal.SIGCONT)
    injection = Injection(at, ended, pid, [
        f"SIGSTOP partition {ctx.partition} consumer pid {pid} (token {token}) for "
        f"{ended - at:.1f}s (lease {ctx.lease_ttl_ms} ms), then SIGCONT"])
    injection.figures.update(mid_batch=mid_batch, took_over_s=took_over, zombie_pid=pid,
                             zombie_token=token)
    return injection


def payments_kill(ctx: Context) -> Injection:
    from rq import Queue
    from rq.registry import StartedJobRegistry

    queue = Queue(ctx.keys.payments_queue_name(), connection=ctx.redis)
    started = StartedJobRegistry(queue=queue)

    def capturing() -> bool:
        return any(job_id.startswith("capture-") for job_id in started.get_job_ids())

    def capture_queued() -> bool:
        return any(job_id.startswith("capture-") for job_id in queue.get_job_ids())

    # Best: the worker is running a capture; else one is queued behind its current job.
    state = ("running" if _wait_for(capturing, CONDITION_WAIT_SECONDS / 2) else
             "queued" if _wait_for(capture_queued, CONDITION_WAIT_SECONDS / 2) else "none")
    injection = _kill_service(ctx, "payments-worker")
    injection.notes.append({
        "running": "while it ran a capture (authorized, not yet captured)",
        "queued": "with a capture queued (authorized, not yet captured)",
        "none": "no capture pending within the wait"}[state])
    injection.figures["capture"] = state
    return injection


_UNSENT = text("""
    SELECT count(*) FROM notifications n JOIN orders o ON o.order_id = n.order_id
    WHERE o.event_id = :event_id AND n.sent_at IS NULL""")


def unsent_mail(engine: Engine, event_id: int) -> int:
    with engine.connect() as conn:
        return int(conn.execute(_UNSENT, {"event_id": event_id}).scalar() or 0)


def notifier_kill(ctx: Context) -> Injection:
    pending = _wait_for(lambda: unsent_mail(ctx.engine, ctx.event_id) > 0)
    injection = _kill_service(ctx, "notifier")
    injection.notes.append("with mail waiting to be sent" if pending
                           else "no mail waiting within the wait")
    injection.figures["mail_pending"] = pending
    return injection


def controller_kill(ctx: Context) -> Injection:
    from waitingroom.keys import RoomKeys

    lease = RoomKeys(ctx.keys.prefix, ctx.event_id).controller_lease
    holder = ctx.redis.get(lease)
    leader = procs.controller_holder(ctx.redis, ctx.keys.prefix, ctx.event_id)
    injection = _kill_service(ctx, "admission-controller", leader)
    injection.notes.append("the room's leader" if leader else "no leader seen; killed one")

    def new_holder() -> bool:
        current = ctx.redis.get(lease)
        return current is not None and current != holder

    if _wait_for(new_holder, TAKEOVER_WAIT_SECONDS):
        injection.figures["took_over_s"] = round(time.time() - injection.injected_at, 2)
    return injection


def autopilot_kill(ctx: Context) -> Injection:
    holder = procs.autopilot_holder(ctx.redis, OpsKeys(ctx.keys.prefix), ctx.event_id)
    injection = _kill_service(ctx, "autopilot", holder)
    injection.notes.append("the lease holder" if holder else "no lease holder seen; "
                           "killed the autopilot process")
    return injection


def _servers(ctx: Context) -> ServerControls:
    if ctx.servers is None:
        raise Skipped("the stack runs Postgres and Redis without fault proxies")
    return ctx.servers


def _server_pid(ctx: Context, server: str) -> int:
    pid = procs.listed_processes(ctx.data_dir).get(server)
    if pid is None:
        raise Skipped(f"the stack does not run its own {server} (no pid in processes.json)")
    return pid


def _server_back(ctx: Context, server: str, old_pid: int, since: float) -> float | None:
    """Seconds until the stack runs the server again (a new pid in processes.json)."""
    def restarted() -> bool:
        pid = procs.listed_processes(ctx.data_dir).get(server)
        return pid is not None and pid != old_pid and procs.alive(pid)

    if _wait_for(restarted, TAKEOVER_WAIT_SECONDS * 3):
        return round(time.time() - since, 2)
    return None


def _restart(ctx: Context, server: str, restart_owned: Callable[[], int | None],
             signum: signal.Signals, owned_note: str, stack_note: str) -> Injection:
    """Strike a server: one this run owns is restarted by it at once; one the stack runs is
    signalled, and the stack's own restart is timed."""
    if ctx.servers is not None:
        at = time.time()
        pid = restart_owned()
        return Injection(at, time.time(), pid, [
            owned_note.format(pid=pid, seconds=time.time() - at)])
    pid = _server_pid(ctx, server)
    at = _signal(pid, signum)
    injection = Injection(at, at, pid, [stack_note.format(pid=pid)])
    injection.figures["restarted_s"] = _server_back(ctx, server, pid, at)
    return injection


def redis_restart(ctx: Context) -> Injection:
    return _restart(
        ctx, "redis", lambda: _servers(ctx).restart_redis(), signal.SIGKILL,
        "SIGKILL Redis pid {pid} (AOF everysec), started again at once (up in {seconds:.1f}s)",
        "SIGKILL Redis pid {pid} (AOF everysec); the stack restarts it")


def postgres_restart(ctx: Context) -> Injection:
    return _restart(
        ctx, "postgres", lambda: _servers(ctx).restart_postgres(),
        signal.SIGQUIT,  # the postmaster's immediate shutdown
        "Postgres pid {pid} stopped (pg_ctl -m immediate), started again at once "
        "(up after crash recovery in {seconds:.1f}s)",
        "SIGQUIT Postgres postmaster pid {pid} (immediate shutdown); the stack restarts it")


def cut(ctx: Context, fault: Fault, server: str) -> Injection:
    servers = _servers(ctx)
    at = time.time()
    servers.cut(server, fault.active_seconds)
    return Injection(at, time.time(), notes=[f"{server} unreachable for "
                                             f"{fault.active_seconds:.0f}s"])


def slow(ctx: Context, fault: Fault, server: str) -> Injection:
    servers = _servers(ctx)
    at = time.time()
    servers.slow(server, 50.0, 500.0, fault.active_seconds)
    return Injection(at, time.time(), notes=[f"{server} 50-500 ms slower per round trip for "
                                             f"{fault.active_seconds:.0f}s"])


def inject(fault: Fault, ctx: Context) -> Injection:
    """Strike `fault` now (waiting at most a few seconds for its exact moment)."""
    match fault.name:
        case "api-kill":
            return api_kill(ctx)
        case "consumer-kill":
            return consumer_kill(ctx)
        case "consumer-pause":
            return consumer_pause(ctx, fault)
        case "payments-kill":
            return payments_kill(ctx)
        case "notifier-kill":
            return notifier_kill(ctx)
        case "controller-kill":
            return controller_kill(ctx)
        case "autopilot-kill":
            return autopilot_kill(ctx)
        case "redis-restart":
            return redis_restart(ctx)
        case "redis-unreachable":
            return cut(ctx, fault, "redis")
        case "redis-slow":
            return slow(ctx, fault, "redis")
        case "postgres-restart":
            return postgres_restart(ctx)
        case "postgres-unreachable":
            return cut(ctx, fault, "postgres")
        case "postgres-slow":
            return slow(ctx, fault, "postgres")
    raise Skipped(f"no injector for {fault.name}")
