"""The autopilot process (`onsale autopilot`): samples every room once a second, steers some.

Each second, for every event with a waiting room, it records that second's
gauges (so the dashboard's charts have a history even when nobody watches),
and for events whose autopilot is on it measures booking p99 (last
`P99_WINDOW_SECONDS`) and the partition queue, runs one step of the PI
controller (`waitingroom.autopilot`) and writes the new `new_users_per_minute`
through the same audited path as an ops change. Several runners may run: per
event only the holder of a short Redis lease steers. The controller's state
lives in the autopilot hash, so a restarted or replacement runner continues
smoothly; if someone else changed the rate meanwhile, it continues from there.

Adjustments are audited coalesced, at most one entry per event every
`AUDIT_EVERY_SECONDS` (old = the rate at the previous entry), so the log stays
readable while the rate moves every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
import uuid

from api.ops import change_log, figures
from api.ops.common import OpsServices
from api.ops.rooms import change_room
from api.ops.sampler import LiveState
from waitingroom.autopilot import AutopilotTargets, ControllerState, Measurement, step
from workers.redis_client import AsyncLuaScript

log = logging.getLogger("onsale.autopilot")

TICK_SECONDS = 1.0
P99_WINDOW_SECONDS = 3
LEASE_MILLISECONDS = 3000
AUDIT_EVERY_SECONDS = 10.0
RATE_CHANGE_EPSILON = 0.5
"""Rates are set in whole fans per minute; smaller differences are not changes."""

_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


class AutopilotRunner:
    def __init__(self, services: OpsServices, owner: str):
        self._services = services
        self.owner = owner
        self._lease = AsyncLuaScript(services.redis, _LEASE)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self.tick(time.time())
            except Exception:  # noqa: BLE001 - one bad second must not end the process
                log.warning("autopilot tick failed", exc_info=True)
            pause = max(0.05, TICK_SECONDS - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause)

    async def tick(self, now: float) -> None:
        for event_id in await self._services.room.configured_event_ids():
            try:
                await self.step_event(event_id, now)
            except Exception:  # noqa: BLE001 - one event's trouble must not stop the others
                log.warning("autopilot step failed for event %s", event_id, exc_info=True)

    async def step_event(self, event_id: int, now: float) -> float | None:
        """Sample the event; steer it if its autopilot is on and ours. The new rate, if set."""
        services = self._services
        state = await services.sampler.live(event_id, now)
        await services.sampler.record(state, now)
        if not state.autopilot_enabled or state.config is None or state.room is None:
            return None
        lease = services.ops_keys.autopilot_lease(event_id)
        if not await self._lease(keys=[lease], args=[self.owner, LEASE_MILLISECONDS]):
            return None
        stored = state.autopilot
        targets = AutopilotTargets.from_mapping(
            {k: v for k, v in stored.items() if k in AutopilotTargets.__dataclass_fields__}
        )
        current_rate = state.config.new_users_per_minute
        controller = _controller_state(stored, current_rate, targets)
        measurement = Measurement(
            p99_seconds=await self.p99(event_id, now),
            queue_depth=state.queue_depth,
            fans_waiting=_rate_binds(state),
        )
        adjustment = step(controller, targets, measurement, now)
        new_rate = float(round(adjustment.rate))
        if abs(new_rate - current_rate) >= RATE_CHANGE_EPSILON:
            await change_room(
                services.redis, services.room, event_id, {"new_users_per_minute": new_rate}
            )
        fields = {
            "integral": repr(adjustment.state.integral),
            "rate": repr(new_rate),
            "at": repr(now),
            "pressure": repr(adjustment.pressure),
            "driver": adjustment.driver.value,
            "queue_depth": str(measurement.queue_depth),
            "p99_seconds": "" if measurement.p99_seconds is None else repr(measurement.p99_seconds),
        }
        await services.redis.hset(services.ops_keys.autopilot(event_id), mapping=fields)  # type: ignore[arg-type]
        await self._audit(
            event_id, stored, current_rate, new_rate, now, adjustment.driver.value, measurement
        )
        return new_rate

    async def p99(self, event_id: int, now: float) -> float | None:
        at = int(now)
        buckets = await self._services.sampler.buckets(event_id, at - P99_WINDOW_SECONDS, at)
        latency: dict[int, int] = {}
        for bucket in buckets.values():
            for name, count in bucket.counters.items():
                if name.startswith("lat:"):
                    latency[int(name[4:])] = latency.get(int(name[4:]), 0) + count
        return figures.quantile(latency, 0.99)

    async def _audit(
        self,
        event_id: int,
        stored: dict[str, str],
        before: float,
        rate: float,
        now: float,
        driver: str,
        measurement: Measurement,
    ) -> None:
        key = self._services.ops_keys.autopilot(event_id)
        if not stored.get("audited_rate"):  # just engaged: the rate in force is the baseline
            await self._services.redis.hset(
                key, mapping={"audited_rate": repr(before), "audited_at": repr(now)}
            )
            return
        audited_rate = float(stored["audited_rate"])
        since = now - float(stored.get("audited_at") or 0.0)
        if rate == audited_rate or since < AUDIT_EVERY_SECONDS:
            return
        record = change_log.AuditRecord(
            change_log.Actor(change_log.AUTOPILOT_ACTOR),
            event_id,
            "autopilot.adjust",
            (change_log.Change("new_users_per_minute", audited_rate, rate),),
            {
                "driver": driver,
                "queue_depth": measurement.queue_depth,
                "p99_seconds": measurement.p99_seconds,
            },
        )
        await change_log.record_async(self._services.db, [record])
        await self._services.redis.hset(
            key, mapping={"audited_rate": repr(rate), "audited_at": repr(now)}
        )


def _controller_state(
    stored: dict[str, str], current_rate: float, targets: AutopilotTargets
) -> ControllerState:
    """Continue from the stored state, unless the rate in force is not the one we set."""
    try:
        integral, rate, at = (float(stored["integral"]), float(stored["rate"]), float(stored["at"]))
    except (KeyError, ValueError):
        return ControllerState.starting_at(current_rate, targets)
    if abs(rate - current_rate) >= RATE_CHANGE_EPSILON:
        return ControllerState.starting_at(current_rate, targets)  # ops moved it by hand
    return ControllerState(integral, rate, at)


def _rate_binds(state: LiveState) -> bool:
    """Fans wait and nothing but the rate holds them back (not paused, not at max active)."""
    room = state.room
    if room is None or not room.started or room.paused:
        return False
    return room.waiting > 0 and room.active_sessions < room.max_active_users


async def serve(services: OpsServices) -> None:
    """`onsale autopilot`: runs on `services` until SIGTERM or SIGINT (the launcher's
    composition root builds them, and closes their clients afterwards)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    owner = f"autopilot-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    log.info("autopilot %s starting", owner)
    try:
        await AutopilotRunner(services, owner).run(stop)
    finally:
        log.info("autopilot %s stopped", owner)
