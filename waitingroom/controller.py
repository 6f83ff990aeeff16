"""The admission controller: moves each event's serving position at the rate ops set.

Several controller processes may run (for availability); per event only the
holder of a Redis lease acts. A step is two scripts: `controller_prepare`
(renew or take the lease, start the sale if due, drop expired sessions, read
config and state) and `controller_advance` (check the lease and the serving
position again, then admit or skip the fans at the next places). Between the
two, Python decides the budget (`waitingroom.rate`) and maps places to fans
(`waitingroom.permutation`), which is why the second script re-checks that
nothing moved: a controller that lost its lease in between changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import redis.asyncio as aioredis

from waitingroom.config import RoomConfig
from waitingroom.keys import RoomKeys, check_prefix
from waitingroom.rate import MAX_CARRY_ADMISSIONS, Limit, plan_admissions
from waitingroom.scripts import RoomScripts
from waitingroom.status import LineSnapshot
from waitingroom.wire import fresh_seed, pairs, text, time_text

log = logging.getLogger(__name__)

LEASE_MILLISECONDS = 2000
"""Ten default steps: a crashed controller is replaced within about two seconds."""
STEP_INTERVAL_SECONDS = 0.2
MAX_PLACES_PER_STEP = 5000
"""Bounds one step's work when a long run of walked-away fans must be skipped."""
MAX_PLACES_PER_SCRIPT = 1000

EventIdsProvider = Callable[[], Awaitable[Iterable[int]] | Iterable[int]]


@dataclass(frozen=True, slots=True)
class StepResult:
    event_id: int
    acted: bool
    """False when another controller holds the lease (or the event has no room)."""
    admitted: int = 0
    skipped: int = 0
    serving_position: int = 0
    active_sessions: int = 0
    limited_by: str = ""
    """A `rate.Limit` value, or why the step did not act:
    lease_held, lease_lost, conflict, room_not_found."""


class AdmissionController:
    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        owner_id: str,
        *,
        lease_ms: int = LEASE_MILLISECONDS,
    ):
        self._redis = redis
        self._prefix = check_prefix(prefix)
        self.owner_id = owner_id
        self._lease_ms = lease_ms
        self._scripts = RoomScripts.register(redis)

    async def step(self, event_id: int, now: float) -> StepResult:
        keys = RoomKeys(self._prefix, event_id)
        prepared = await self._prepare(keys, now)
        if isinstance(prepared, StepResult):
            return prepared
        line, active = prepared
        config = line.config
        plan = plan_admissions(
            config,
            credit=line.credit,
            credit_at=line.credit_at,
            active_sessions=active,
            now=now,
        )
        waiting_exists = line.serving_position < line.joined
        meter = line.rate.observe(
            line.serving_position,
            now,
            demand=line.started and waiting_exists and plan.limited_by is not Limit.PAUSED,
        )
        serving = line.serving_position
        credit = plan.credit
        admitted = skipped = 0
        remaining = plan.budget
        while True:
            seqs: list[int] = []
            if remaining > 0 and line.order is not None:
                last = min(line.joined, serving + min(2 * remaining + 32, MAX_PLACES_PER_SCRIPT))
                seqs = [line.order.seq_at(place) for place in range(serving + 1, last + 1)]
            reply = await self._scripts.controller_advance(
                keys=[keys.controller_lease, keys.state, keys.seen, keys.sessions],
                args=[
                    self.owner_id,
                    serving,
                    time_text(now),
                    remaining,
                    time_text(now + config.admission_token_ttl_seconds),
                    repr(config.position_expiry_seconds),
                    repr(credit),
                    repr(MAX_CARRY_ADMISSIONS),
                    "" if meter.per_second is None else repr(meter.per_second),
                    "" if meter.mark_at is None else repr(meter.mark_at),
                    meter.mark_serving,
                    *seqs,
                ],
            )
            verdict = text(reply[0])
            if verdict != "ok":
                return StepResult(event_id, False, admitted, skipped, serving, active, verdict)
            step_admitted, step_skipped = int(reply[1]), int(reply[2])
            serving = int(reply[3])
            admitted += step_admitted
            skipped += step_skipped
            remaining -= step_admitted
            credit -= step_admitted
            if (
                not seqs
                or remaining == 0
                or serving >= line.joined
                or admitted + skipped >= MAX_PLACES_PER_STEP
            ):
                break
        limited_by = plan.limited_by
        if limited_by is Limit.RATE and admitted < plan.budget:
            limited_by = Limit.QUEUE_EMPTY
        return StepResult(
            event_id, True, admitted, skipped, serving, active + admitted, limited_by.value
        )

    async def release(self, event_id: int) -> None:
        """Hand the lease back at shutdown so a standby takes over at once."""
        keys = RoomKeys(self._prefix, event_id)
        await self._scripts.controller_release(keys=[keys.controller_lease], args=[self.owner_id])

    async def run(
        self,
        event_ids_provider: EventIdsProvider,
        stop_event: asyncio.Event,
        interval: float = STEP_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Step every event every `interval` seconds until `stop_event` is set.

        One event's failure (Redis hiccup, bad config) is logged and does not
        stop the others; leases are released on the way out.
        """
        stepped: set[int] = set()
        try:
            while not stop_event.is_set():
                started = time.monotonic()
                for event_id in await _event_ids(event_ids_provider):
                    try:
                        await self.step(event_id, clock())
                        stepped.add(event_id)
                    except Exception:
                        log.exception("admission step failed for event %s", event_id)
                pause = max(0.0, interval - (time.monotonic() - started))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop_event.wait(), timeout=pause)
        finally:
            for event_id in stepped:
                try:
                    await self.release(event_id)
                except Exception:
                    log.exception("releasing the lease of event %s failed", event_id)

    async def _prepare(self, keys: RoomKeys, now: float) -> tuple[LineSnapshot, int] | StepResult:
        reply = await self._scripts.controller_prepare(
            keys=[keys.controller_lease, keys.config, keys.state, keys.sessions],
            args=[self.owner_id, self._lease_ms, time_text(now), fresh_seed()],
        )
        verdict = text(reply[0])
        if verdict != "ok":
            return StepResult(keys.event_id, False, limited_by=verdict)
        config = RoomConfig.from_fields(pairs(reply[3]))
        return LineSnapshot.parse(config, pairs(reply[2])), int(text(reply[1]))


def new_owner_id() -> str:
    """A controller identity unique across processes and restarts; it names the process
    (`controller-<pid>-<random>`), so ops and fault runs see which one holds a room."""
    return f"controller-{os.getpid()}-{secrets.token_hex(6)}"


async def _event_ids(provider: EventIdsProvider) -> Iterable[int]:
    ids = provider()
    if inspect.isawaitable(ids):
        return await ids
    return ids
