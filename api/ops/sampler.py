"""Reads an event's live state, stores it as that second's gauges, and builds dashboard figures.

Cheap by construction: the waiting room's own hashes (one pipeline), the
partition queue length, the per-second counter hashes the pipeline already
writes (`workers.ops_counters`), and one Postgres query for seats and holds,
cached for `INVENTORY_CACHE_SECONDS`. Whoever samples (a dashboard stream, the
autopilot runner) writes the gauges of the current second, so the chart
history exists for every second someone was watching or the autopilot ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import sqlalchemy as sa

from api.ops import figures
from waitingroom.autopilot import AutopilotTargets
from waitingroom.config import RoomConfig
from waitingroom.errors import WaitingRoomError
from waitingroom.room import WaitingRoom
from waitingroom.status import QueueSummary
from waitingroom.wire import text, text_map
from workers.keys import Keys
from workers.ops_counters import SECOND_TTL_SECONDS, OpsKeys
from workers.partitions import partition_for

INVENTORY_CACHE_SECONDS = 2.0
PINS_CACHE_SECONDS = 1.0
SALE_CLOSED_AT = 32503680000.0
"""2999-12-31T23:00Z: opens_at and sale_starts_at of a closed sale (no joins, no admissions)."""

_INVENTORY = sa.text(
    """
    SELECT
      (SELECT count(*) FROM seats s WHERE s.venue_id = e.venue_id) AS seats,
      (SELECT coalesce(sum(capacity), 0) FROM ga_inventory g WHERE g.event_id = e.id) AS ga_cap,
      (SELECT coalesce(sum(sold), 0) FROM ga_inventory g WHERE g.event_id = e.id) AS ga_sold,
      (SELECT coalesce(sum(held), 0) FROM ga_inventory g WHERE g.event_id = e.id) AS ga_held,
      (SELECT count(*) FROM seat_claims c WHERE c.event_id = e.id AND c.state = 'sold')
        AS seats_sold,
      (SELECT count(*) FROM seat_claims c WHERE c.event_id = e.id AND c.state = 'held')
        AS seats_held,
      (SELECT count(*) FROM seat_claims c WHERE c.event_id = e.id AND c.state = 'blocked')
        AS seats_blocked,
      (SELECT count(*) FROM holds h WHERE h.event_id = e.id AND h.status = 'active')
        AS holds_open
    FROM events e WHERE e.id = :event_id
    """
)


@dataclass(frozen=True, slots=True)
class Inventory:
    capacity: int
    sold: int
    held: int
    blocked: int
    holds_open: int

    def to_json(self) -> dict[str, int]:
        return {
            "capacity": self.capacity,
            "sold": self.sold,
            "held": self.held,
            "blocked": self.blocked,
            "available": max(0, self.capacity - self.sold - self.held - self.blocked),
            "holds_open": self.holds_open,
        }


@dataclass(frozen=True, slots=True)
class LiveState:
    event_id: int
    room: QueueSummary | None
    config: RoomConfig | None
    partition: str
    queue_depth: int
    inventory: Inventory | None
    autopilot: dict[str, str]

    @property
    def autopilot_enabled(self) -> bool:
        return self.autopilot.get("enabled") == "1"

    def gauges(self) -> dict[str, float]:
        out: dict[str, float] = {
            "queue_depth": self.queue_depth,
            "autopilot": 1.0 if self.autopilot_enabled else 0.0,
        }
        if self.room is not None:
            out.update(
                waiting=self.room.waiting,
                active=self.room.active_sessions,
                joined=self.room.joined,
                admitted=self.room.admitted_total,
                rate_setting=self.room.new_users_per_minute,
                max_active=self.room.max_active_users,
                paused=1.0 if self.room.paused else 0.0,
            )
        if self.inventory is not None:
            out.update(
                holds_open=self.inventory.holds_open,
                sold=self.inventory.sold,
                capacity=self.inventory.capacity,
            )
        return out


def sale_state(config: RoomConfig, now: float) -> str:
    """closed (ops closed it), scheduled (joining not open yet), prequeue, or on_sale."""
    if config.opens_at >= SALE_CLOSED_AT:
        return "closed"
    if now < config.opens_at:
        return "scheduled"
    if now < config.sale_starts_at:
        return "prequeue"
    return "on_sale"


class Sampler:
    def __init__(
        self,
        redis: aioredis.Redis,
        db: sa.Engine,
        room: WaitingRoom,
        prefix: str,
        partitions: int,
    ):
        self._redis = redis
        self._db = db
        self._room = room
        self.keys = Keys(prefix)
        self.ops_keys = OpsKeys(prefix)
        self._partitions = partitions
        self._pins: dict[int, str] = {}
        self._pins_read_at = -1e9
        self._inventory: dict[int, tuple[float, Inventory | None]] = {}

    async def partition_of(self, event_id: int) -> str:
        if time.monotonic() - self._pins_read_at > PINS_CACHE_SECONDS:
            raw = await self._redis.hgetall(self.keys.partition_pins())
            self._pins = {int(text(k)): text(v) for k, v in raw.items()}
            self._pins_read_at = time.monotonic()
        return partition_for(event_id, self._partitions, self._pins)

    async def inventory(self, event_id: int) -> Inventory | None:
        cached = self._inventory.get(event_id)
        if cached is not None and time.monotonic() - cached[0] < INVENTORY_CACHE_SECONDS:
            return cached[1]
        found = await asyncio.to_thread(self._query_inventory, event_id)
        if len(self._inventory) > 1000:
            self._inventory.clear()
        self._inventory[event_id] = (time.monotonic(), found)
        return found

    def _query_inventory(self, event_id: int) -> Inventory | None:
        with self._db.connect() as conn:
            row = conn.execute(_INVENTORY, {"event_id": event_id}).first()
        if row is None:
            return None
        return Inventory(
            capacity=int(row.seats) + int(row.ga_cap),
            sold=int(row.seats_sold) + int(row.ga_sold),
            held=int(row.seats_held) + int(row.ga_held),
            blocked=int(row.seats_blocked),
            holds_open=int(row.holds_open),
        )

    async def live(self, event_id: int, now: float, with_inventory: bool = True) -> LiveState:
        partition = await self.partition_of(event_id)
        try:
            summary: QueueSummary | None = await self._room.summary(event_id, now)
        except WaitingRoomError:
            summary = None
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._room.keys(event_id).config)
            pipe.llen(self.keys.queue(partition))
            pipe.hgetall(self.ops_keys.autopilot(event_id))
            stored_config, depth, autopilot = await pipe.execute()
        config = RoomConfig.from_fields(text_map(stored_config)) if stored_config else None
        inventory = await self.inventory(event_id) if with_inventory else None
        return LiveState(
            event_id, summary, config, partition, int(depth), inventory, text_map(autopilot)
        )

    async def record(self, state: LiveState, now: float) -> None:
        key = self.ops_keys.second(state.event_id, int(now))
        gauges = {f"g:{name}": repr(float(value)) for name, value in state.gauges().items()}
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping=gauges)  # type: ignore[arg-type]
            pipe.expire(key, SECOND_TTL_SECONDS)
            await pipe.execute()

    async def buckets(self, event_id: int, start: int, end: int) -> dict[int, figures.SecondBucket]:
        """The stored seconds in [start, end), parsed."""
        seconds = list(range(start, end))
        async with self._redis.pipeline(transaction=False) as pipe:
            for second in seconds:
                pipe.hgetall(self.ops_keys.second(event_id, second))
            replies = await pipe.execute()
        return {
            second: figures.SecondBucket.parse(second, raw)
            for second, raw in zip(seconds, replies, strict=True)
            if raw
        }

    async def snapshot(self, event_id: int, now: float, record: bool = True) -> dict[str, Any]:
        """The dashboard's view of one event now (and, with `record`, store this second)."""
        state = await self.live(event_id, now)
        if record:
            await self.record(state, now)
        at = int(now)
        window = figures.SLOW_WINDOW_SECONDS + 2 * figures.RATE_WINDOW_SECONDS
        by_second = await self.buckets(event_id, at - window, at + 1)
        return figures.round_floats(describe(state, now, figures.point(by_second, at)))

    async def history(self, event_id: int, now: float, seconds: int) -> list[dict[str, Any]]:
        at = int(now)
        window = figures.SLOW_WINDOW_SECONDS + 2 * figures.RATE_WINDOW_SECONDS
        by_second = await self.buckets(event_id, at - seconds - window, at + 1)
        points = figures.series(by_second, at - seconds, at + 1)
        return figures.round_floats([p for p in points if _has_data(p)])


def describe(state: LiveState, now: float, point: dict[str, Any]) -> dict[str, Any]:
    room: dict[str, Any] | None = None
    if state.room is not None and state.config is not None:
        room = {
            **state.room.to_json(),
            "sale_state": sale_state(state.config, now),
            "config": state.config.to_json(),
        }
    autopilot = dict(state.autopilot)
    return {
        "event_id": state.event_id,
        "now": now,
        "room": room,
        "partition": {"name": state.partition, "queue_depth": state.queue_depth},
        "inventory": state.inventory.to_json() if state.inventory else None,
        "autopilot": autopilot_view(autopilot),
        "point": point,
    }


def autopilot_view(stored: dict[str, str]) -> dict[str, Any]:
    """The autopilot hash as JSON: settings and the controller's last step."""
    targets = AutopilotTargets()
    with contextlib.suppress(WaitingRoomError):
        targets = AutopilotTargets.from_mapping(
            {k: v for k, v in stored.items() if k in AutopilotTargets.__dataclass_fields__}
        )
    last: dict[str, Any] = {}
    for name in ("rate", "pressure", "p99_seconds", "queue_depth", "at"):
        if stored.get(name):
            last[name] = float(stored[name])
    if stored.get("driver"):
        last["driver"] = stored["driver"]
    return {"enabled": stored.get("enabled") == "1", **targets.to_json(), "last_step": last}


def _has_data(point: dict[str, Any]) -> bool:
    return any(
        point.get(name) not in (None, 0, 0.0)
        for name in (
            "waiting",
            "queue_depth",
            "decisions_per_second",
            "http_per_second",
            "rate_setting",
            "capacity",
        )
    )
