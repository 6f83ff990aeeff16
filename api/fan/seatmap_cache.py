"""Live seat maps held in memory, kept current by the partition consumers' availability deltas.

During a rush thousands of fans look at one seat map; asking Postgres each
time would put the read load on the database the booking writes need. So
each API process builds an event's seat map once from Postgres (one snapshot,
with its inventory version), then follows the event's availability stream:

- the consumer XADDs `{version, delta}` to the event's stream and PUBLISHes
  the delta after every committed batch;
- one pub/sub connection per process (pattern subscription) tells which
  events moved; the cache then reads the stream from the last entry it
  applied (XRANGE), so a lost pub/sub message costs a delay, never a gap;
- a periodic sweep reads the streams anyway, evicts idle maps, and compares
  versions with Postgres, rebuilding a map that fell behind (Redis lost the
  stream, or it was trimmed past us).

At build time the stream's last id is read *before* the Postgres snapshot;
entries after it with a version above the snapshot's are applied, the others
are already in the snapshot. Versions only grow, so applying is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio
import sqlalchemy
from aiohttp import web

from api.http.appkeys import DB_ENGINE_KEY, REDIS_KEY, SETTINGS_KEY
from engine.store.seatmaps import (
    EventSeatState,
    VenueLayout,
    event_versions,
    load_event_state,
    load_layout,
)
from waitingroom.wire import text
from workers.keys import Keys

log = logging.getLogger("onsale.seatmaps")

MAX_EVENTS = 256
MAX_LAYOUTS = 64
IDLE_EVICT_SECONDS = 600.0
SWEEP_INTERVAL_SECONDS = 2.0
VERIFY_INTERVAL_SECONDS = 30.0
RECENT_DELTAS = 512
"""Deltas kept per event so a reconnecting stream resumes without a snapshot."""
SUBSCRIBER_BACKLOG = 256
"""Deltas a slow SSE client may fall behind by before it gets a fresh snapshot instead."""
GZIP_LEVEL = 1
"""Level 1 packs a 20,000-seat map to a fifth in ~3 ms; level 5 saves 15% more for 18 ms."""
STREAM_READ_COUNT = 500
LISTEN_POLL_SECONDS = 1.0
SEAT_FIELDS = ("seat_id", "section_id", "row", "label", "x", "y", "category", "price_cents",
               "accessible", "state")


@dataclass(eq=False)
class Subscriber:
    """One SSE client's queue of (version, changes); `behind` once it overflowed."""

    queue: asyncio.Queue[tuple[int, dict[str, str]]] = field(
        default_factory=lambda: asyncio.Queue(SUBSCRIBER_BACKLOG))
    behind: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class LiveSeatMap:
    """An event's seat map at `version`: the venue layout plus the seats that are not available."""

    def __init__(self, layout: VenueLayout, state: EventSeatState, stream_id: str) -> None:
        self.layout = layout
        self.event_id = state.event_id
        self.stream_id = stream_id
        self.recent: deque[tuple[int, int, dict[str, str]]] = deque(maxlen=RECENT_DELTAS)
        self.subscribers: set[Subscriber] = set()
        self.last_used = time.monotonic()
        self.verified_version = -1
        self._prefixes: list[str] = []
        self._positions: dict[int, int] = {}
        self._rows: list[str] | None = None
        """Each seat's JSON row, kept current by `apply`: a new version costs one join."""
        self._rendered: tuple[str, bytes] | None = None
        self._gzipped: tuple[str, bytes] | None = None
        self._sections: tuple[int, list[dict[str, Any]]] | None = None
        self.reset(state)

    def reset(self, state: EventSeatState) -> None:
        """Take a fresh snapshot's state; clients resynchronise from a snapshot."""
        self.name = state.name
        self.status = state.status
        self.currency = state.currency
        self.organizer_id = state.organizer_id
        self.version = state.version
        self.tiers = state.tiers
        self.price_by_category = {tier.category: tier.price_cents for tier in state.tiers}
        self.claims = dict(state.claims)
        self.zones_available = dict(state.zones_available)
        self.recent.clear()
        self._rows = None
        self._rendered = None
        self._gzipped = None
        self._sections = None
        for subscriber in self.subscribers:
            subscriber.behind = True
            subscriber.wake.set()

    @property
    def etag(self) -> str:
        return f'"{self.event_id}-{self.version}-{self.status}"'

    def apply(self, version: int, changes: dict[str, str]) -> bool:
        """Apply a delta newer than what we have; older ones are already included."""
        if version <= self.version:
            return False
        for key, value in changes.items():
            if key.startswith("zone:"):
                self.zones_available[int(key[5:])] = int(value)
            else:
                seat_id = int(key)
                if value == "available":
                    self.claims.pop(seat_id, None)
                else:
                    self.claims[seat_id] = value
                position = self._positions.get(seat_id)
                if self._rows is not None and position is not None:
                    self._rows[position] = f'{self._prefixes[position]}{value}"]'
        self.recent.append((self.version, version, changes))
        self.version = version
        for subscriber in self.subscribers:
            if subscriber.behind:
                continue
            try:
                subscriber.queue.put_nowait((version, changes))
            except asyncio.QueueFull:
                subscriber.behind = True
            subscriber.wake.set()
        return True

    def deltas_after(self, version: int) -> list[tuple[int, dict[str, str]]] | None:
        """Deltas since `version`, or None if they are no longer all kept (send a snapshot)."""
        if version == self.version:
            return []
        if version > self.version or not self.recent or self.recent[0][0] > version:
            return None
        return [(new, changes) for base, new, changes in self.recent if new > version]

    def states(self) -> dict[str, str]:
        """Every seat that is not available and every GA zone's count: a snapshot for SSE."""
        states = {str(seat_id): state for seat_id, state in self.claims.items()}
        states.update({f"zone:{zone_id}": str(left)
                       for zone_id, left in self.zones_available.items()})
        return states

    # ------------------------------------------------------------ the JSON document

    def render(self) -> bytes:
        """The seat map as JSON, rendered once per version (seat rows are pre-rendered)."""
        if self._rendered is not None and self._rendered[0] == self.etag:
            return self._rendered[1]
        if self._rows is None:
            self._prefixes = [self._seat_prefix(seat) for seat in self.layout.seats]
            self._positions = {seat.seat_id: i for i, seat in enumerate(self.layout.seats)}
            claims = self.claims
            self._rows = [f'{prefix}{claims.get(seat.seat_id, "available")}"]'
                          for prefix, seat in zip(self._prefixes, self.layout.seats,
                                                  strict=True)]
        seats = ",".join(self._rows)
        head = json.dumps(self.summary_document(), separators=(",", ":"))
        body = f'{head[:-1]},"seat_fields":{json.dumps(SEAT_FIELDS)},"seats":[{seats}]}}'
        self._rendered = (self.etag, body.encode())
        return self._rendered[1]

    def render_gzip(self) -> bytes:
        """The gzip of this version's document, compressed once per version."""
        body = self.render()
        if self._gzipped is None or self._gzipped[0] != self.etag:
            self._gzipped = (self.etag, gzip.compress(body, GZIP_LEVEL, mtime=0))
        return self._gzipped[1]

    def _seat_prefix(self, seat: Any) -> str:
        price = self.price_by_category.get(seat.category)
        return (f"[{seat.seat_id},{seat.section_id},{json.dumps(seat.row)},"
                f"{json.dumps(seat.label)},{seat.x!r},{seat.y!r},{json.dumps(seat.category)},"
                f"{'null' if price is None else price},{'true' if seat.accessible else 'false'},"
                '"')

    def summary_document(self) -> dict[str, Any]:
        layout = self.layout
        return {
            "event_id": self.event_id,
            "name": self.name,
            "status": self.status,
            "currency": self.currency,
            "version": self.version,
            "venue": {"venue_id": layout.venue_id, "name": layout.name, "city": layout.city,
                      "country": layout.country, "stage": layout.stage},
            "price_tiers": [{"code": t.code, "name": t.name, "category": t.category,
                             "price_cents": t.price_cents} for t in self.tiers],
            "sections": [{"section_id": s.section_id, "name": s.name, "rank": s.rank}
                         for s in layout.sections],
            "ga_zones": [{"zone_id": z.zone_id, "name": z.name, "capacity": z.capacity,
                          "category": z.category,
                          "price_cents": self.price_by_category.get(z.category),
                          "available": self.zones_available.get(z.zone_id, z.capacity)}
                         for z in layout.zones],
        }

    def section_availability(self) -> list[dict[str, Any]]:
        """Per section: seats, seats available, and the price range of what is available."""
        if self._sections is not None and self._sections[0] == self.version:
            return self._sections[1]
        totals: dict[int, list[Any]] = {
            s.section_id: [0, 0, None, None] for s in self.layout.sections}
        claims, prices = self.claims, self.price_by_category
        for seat in self.layout.seats:
            entry = totals[seat.section_id]
            entry[0] += 1
            price = prices.get(seat.category)
            if seat.seat_id in claims or price is None:
                continue
            entry[1] += 1
            entry[2] = price if entry[2] is None else min(entry[2], price)
            entry[3] = price if entry[3] is None else max(entry[3], price)
        sections = [{"section_id": s.section_id, "name": s.name, "kind": "seated",
                     "seats": totals[s.section_id][0], "available": totals[s.section_id][1],
                     "min_price_cents": totals[s.section_id][2],
                     "max_price_cents": totals[s.section_id][3]}
                    for s in self.layout.sections]
        sections += [{"zone_id": z.zone_id, "name": z.name, "kind": "general_admission",
                      "seats": z.capacity,
                      "available": self.zones_available.get(z.zone_id, z.capacity),
                      "min_price_cents": prices.get(z.category),
                      "max_price_cents": prices.get(z.category)}
                     for z in self.layout.zones]
        self._sections = (self.version, sections)
        return sections


class EventNotFound(Exception):
    """No event with this id."""


class SeatMapCache:
    """Per-process live seat maps, LRU-bounded, each following its event's availability stream."""

    def __init__(self, engine: sqlalchemy.Engine, client: redis.asyncio.Redis, keys: Keys):
        self._engine = engine
        self._redis = client
        self._keys = keys
        self._maps: OrderedDict[int, LiveSeatMap] = OrderedDict()
        self._layouts: OrderedDict[int, VenueLayout] = OrderedDict()
        self._building: dict[int, asyncio.Future[LiveSeatMap]] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._pending: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_verify = time.monotonic()
        self._stopping = False

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._sweep())]

    async def stop(self) -> None:
        # redis-py can swallow a cancellation that races its read timeout; the flag ends
        # the listener's loop within one poll interval regardless.
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.wait(self._tasks, timeout=LISTEN_POLL_SECONDS * 3)

    # ------------------------------------------------------------ reading

    def cached(self, event_id: int) -> LiveSeatMap | None:
        return self._maps.get(event_id)

    async def get(self, event_id: int) -> LiveSeatMap:
        """The event's live map, built on first use; raises EventNotFound."""
        seat_map = self._maps.get(event_id)
        if seat_map is not None:
            self._maps.move_to_end(event_id)
            seat_map.last_used = time.monotonic()
            return seat_map
        building = self._building.get(event_id)
        if building is None:
            building = asyncio.get_running_loop().create_future()
            self._building[event_id] = building
            try:
                seat_map = await self._build(event_id)
            except BaseException as exc:
                building.set_exception(exc)
                building.exception()  # retrieved: waiters re-raise it themselves
                raise
            finally:
                self._building.pop(event_id, None)
            building.set_result(seat_map)
            return seat_map
        return await asyncio.shield(building)

    def forget(self, event_id: int) -> None:
        """Drop an event's map (its status or prices changed); the next read rebuilds it."""
        seat_map = self._maps.pop(event_id, None)
        if seat_map is not None:
            for subscriber in seat_map.subscribers:
                subscriber.behind = True
                subscriber.wake.set()

    async def _build(self, event_id: int) -> LiveSeatMap:
        from engine.store.errors import NotFoundError

        stream_id = await self._last_stream_id(event_id)
        try:
            state = await asyncio.to_thread(load_event_state, self._engine, event_id)
        except NotFoundError:
            raise EventNotFound(event_id) from None
        layout = await self._layout(state.venue_id)
        seat_map = LiveSeatMap(layout, state, stream_id)
        await self._catch_up(seat_map)
        self._maps[event_id] = seat_map
        while len(self._maps) > MAX_EVENTS:
            _, evicted = self._maps.popitem(last=False)
            self._evicted(evicted)
        return seat_map

    async def _layout(self, venue_id: int) -> VenueLayout:
        layout = self._layouts.get(venue_id)
        if layout is None:
            layout = await asyncio.to_thread(load_layout, self._engine, venue_id)
            self._layouts[venue_id] = layout
            while len(self._layouts) > MAX_LAYOUTS:
                self._layouts.popitem(last=False)
        else:
            self._layouts.move_to_end(venue_id)
        return layout

    async def _rebuild(self, seat_map: LiveSeatMap) -> None:
        stream_id = await self._last_stream_id(seat_map.event_id)
        state = await asyncio.to_thread(load_event_state, self._engine, seat_map.event_id)
        seat_map.stream_id = stream_id
        seat_map.reset(state)
        await self._catch_up(seat_map)

    def _evicted(self, seat_map: LiveSeatMap) -> None:
        for subscriber in seat_map.subscribers:
            subscriber.behind = True
            subscriber.wake.set()

    # ------------------------------------------------------------ following the stream

    async def _last_stream_id(self, event_id: int) -> str:
        last = _entries(await self._redis.xrevrange(self._keys.availability_stream(event_id),
                                                    count=1))
        return last[0][0] if last else "0-0"

    async def _catch_up(self, seat_map: LiveSeatMap) -> None:
        """Apply every stream entry after the last one applied, in order."""
        lock = self._locks.setdefault(seat_map.event_id, asyncio.Lock())
        async with lock:
            stream = self._keys.availability_stream(seat_map.event_id)
            while True:
                entries = _entries(await self._redis.xrange(
                    stream, min=f"({seat_map.stream_id}", count=STREAM_READ_COUNT))
                for entry_id, fields in entries:
                    seat_map.stream_id = entry_id
                    try:
                        delta = json.loads(fields[b"delta"])
                        seat_map.apply(int(delta["version"]), delta["changes"])
                    except (KeyError, ValueError, TypeError):
                        log.warning("unreadable availability delta %s on %s", entry_id, stream)
                if len(entries) < STREAM_READ_COUNT:
                    return

    def _notified(self, event_id: int) -> None:
        seat_map = self._maps.get(event_id)
        if seat_map is None or event_id in self._pending:
            return
        self._pending.add(event_id)
        asyncio.get_running_loop().create_task(self._catch_up_pending(seat_map))

    async def _catch_up_pending(self, seat_map: LiveSeatMap) -> None:
        self._pending.discard(seat_map.event_id)
        try:
            await self._catch_up(seat_map)
        except Exception:  # noqa: BLE001 - the sweep retries; a hiccup must not kill the task
            log.warning("catching up event %s failed", seat_map.event_id, exc_info=True)

    async def _listen(self) -> None:
        pattern = self._keys.availability_channel(0).replace("{ev:0}", "{ev:*}")
        prefix, _, suffix = pattern.partition("{ev:*}")
        while not self._stopping:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(pattern)
                for seat_map in list(self._maps.values()):  # missed while disconnected
                    await self._catch_up(seat_map)
                while not self._stopping:
                    message = await pubsub.get_message(timeout=LISTEN_POLL_SECONDS)
                    if message is None or message.get("type") != "pmessage":
                        continue
                    channel = message["channel"].decode()
                    tag = channel[len(prefix) + 4:len(channel) - len(suffix) - 1]
                    if tag.isdigit():
                        self._notified(int(tag))
            except Exception:  # noqa: BLE001 - Redis hiccups must not end live seat maps
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from None  # redis-py wrapped our cancel
                log.warning("seat-map listener lost Redis; reconnecting", exc_info=True)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_SECONDS)
            try:
                await self.sweep_once()
            except Exception:  # noqa: BLE001 - the next sweep tries again
                log.warning("seat-map sweep failed", exc_info=True)

    async def sweep_once(self, *, verify: bool | None = None) -> None:
        """Evict idle maps, read streams, and now and then check versions against Postgres."""
        now = time.monotonic()
        for event_id, seat_map in list(self._maps.items()):
            if now - seat_map.last_used > IDLE_EVICT_SECONDS and not seat_map.subscribers:
                del self._maps[event_id]
                self._locks.pop(event_id, None)
        for seat_map in list(self._maps.values()):
            await self._catch_up(seat_map)
        if verify is None:
            verify = now - self._last_verify >= VERIFY_INTERVAL_SECONDS
        if verify:
            self._last_verify = now
            await self._verify(list(self._maps.values()))

    async def _verify(self, maps: Iterable[LiveSeatMap]) -> None:
        maps = list(maps)
        versions = await asyncio.to_thread(
            event_versions, self._engine, [m.event_id for m in maps])
        for seat_map in maps:
            stored, status = versions.get(seat_map.event_id, (None, None))
            if stored is None:
                self.forget(seat_map.event_id)
            elif status != seat_map.status:
                await self._rebuild(seat_map)
            elif stored > seat_map.version and seat_map.verified_version == seat_map.version:
                # Behind twice in a row with no progress: deltas were lost. Start again.
                log.info("seat map of event %s is behind (%s < %s); rebuilding",
                         seat_map.event_id, seat_map.version, stored)
                await self._rebuild(seat_map)
            seat_map.verified_version = seat_map.version


SEATMAP_CACHE_KEY = web.AppKey("seatmap_cache", SeatMapCache)


async def seatmap_cache_ctx(app: web.Application) -> AsyncIterator[None]:
    cache = SeatMapCache(app[DB_ENGINE_KEY], app[REDIS_KEY], Keys(app[SETTINGS_KEY].redis_prefix))
    app[SEATMAP_CACHE_KEY] = cache
    await cache.start()
    yield
    await cache.stop()


def _entries(reply: Iterable[tuple[Any, Any]] | None) -> list[tuple[str, Mapping[Any, Any]]]:
    """An XRANGE or XREVRANGE reply as (entry id, fields) pairs."""
    return [(text(entry_id), fields or {}) for entry_id, fields in reply or ()]
