"""The dashboard's data: events, a stats snapshot with history, the live stream, partitions.

One sampler task per watched event and API process, however many dashboards
stream it: it samples once a second and fans the snapshot out to the open
streams, and stops when the last one closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from api.fan.identity import optional_principal
from api.fan.results_hub import sse_response, sse_send
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError
from api.http.openapi_spec import error_codes
from api.http.params import ascii_id
from api.ops.common import GUARD_CODES, OPS_KEY, OPS_ROLE, OpsServices, event_id_of, routes
from api.ops.sampler import sale_state
from waitingroom.config import RoomConfig
from waitingroom.wire import text, text_map
from workers.keys import RQ_QUEUE_PREFIX
from workers.partitions import all_partitions, partition_for

log = logging.getLogger("onsale.ops")

SAMPLE_INTERVAL_SECONDS = 1.0
DEFAULT_HISTORY_SECONDS = 300
MAX_HISTORY_SECONDS = 900
STREAM_MAX_SECONDS = 1800.0
"""The page reconnects; a long-lived stream also re-checks the session this often."""
SESSION_RECHECK_SECONDS = 60.0
UPCOMING_EVENTS_LIMIT = 50


class StatsHub:
    def __init__(self, services: OpsServices):
        self._services = services
        self._watchers: dict[int, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def watch(self, event_id: int) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=5)
        self._watchers.setdefault(event_id, set()).add(queue)
        if event_id not in self._tasks:
            self._tasks[event_id] = asyncio.create_task(self._sample_loop(event_id))
        return queue

    def unwatch(self, event_id: int, queue: asyncio.Queue[dict[str, Any]]) -> None:
        watchers = self._watchers.get(event_id)
        if watchers is None:
            return
        watchers.discard(queue)
        if not watchers:
            del self._watchers[event_id]
            task = self._tasks.pop(event_id, None)
            if task is not None:
                task.cancel()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _sample_loop(self, event_id: int) -> None:
        while event_id in self._watchers:
            started = time.monotonic()
            try:
                snapshot = await self._services.sampler.snapshot(event_id, time.time())
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a Redis/Postgres hiccup must not end the stream
                log.warning("sampling event %s failed", event_id, exc_info=True)
                snapshot = {"event_id": event_id, "error": "sampling failed; retrying"}
            for queue in tuple(self._watchers.get(event_id, ())):
                if queue.full():
                    with contextlib.suppress(asyncio.QueueEmpty):
                        queue.get_nowait()  # a slow reader gets the newest figures
                queue.put_nowait(snapshot)
            await asyncio.sleep(max(0.05, SAMPLE_INTERVAL_SECONDS - (time.monotonic() - started)))


HUB_KEY = web.AppKey("ops_stats_hub", StatsHub)


_EVENTS = sa.text(
    """
    SELECT id, name, status, onsale_at, starts_at FROM events
    WHERE id = ANY(:room_ids)
       OR (status = 'published' AND onsale_at BETWEEN now() - interval '30 days'
                                               AND now() + interval '30 days')
    ORDER BY (id = ANY(:room_ids)) DESC, onsale_at
    LIMIT :limit
    """
)


@routes.get("/events")
async def list_events(request: web.Request) -> web.Response:
    """Ops only. Events with a waiting room (and upcoming on-sales that could get one)."""
    services = request.config_dict[OPS_KEY]
    room_ids = await services.room.configured_event_ids()

    def query() -> list[Any]:
        with services.db.connect() as conn:
            return list(
                conn.execute(
                    _EVENTS, {"room_ids": room_ids, "limit": len(room_ids) + UPCOMING_EVENTS_LIMIT}
                )
            )

    rows = await asyncio.to_thread(query)
    now = time.time()
    pins = {
        int(text(k)): text(v)
        for k, v in (await services.redis.hgetall(services.keys.partition_pins())).items()
    }
    async with services.redis.pipeline(transaction=False) as pipe:
        for row in rows:
            pipe.hgetall(services.room.keys(row.id).config)
            pipe.hget(services.ops_keys.autopilot(row.id), "enabled")
        replies = await pipe.execute()
    events = []
    for index, row in enumerate(rows):
        stored, autopilot = replies[2 * index], replies[2 * index + 1]
        config = RoomConfig.from_fields(text_map(stored)) if stored else None
        events.append(
            {
                "event_id": row.id,
                "name": row.name,
                "status": row.status,
                "onsale_at": row.onsale_at.isoformat(),
                "starts_at": row.starts_at.isoformat(),
                "has_room": config is not None,
                "sale_state": sale_state(config, now) if config else None,
                "paused": config.paused if config else None,
                "new_users_per_minute": config.new_users_per_minute if config else None,
                "autopilot": text(autopilot) == "1" if autopilot else False,
                "partition": partition_for(row.id, services.settings.partitions, pins),
            }
        )
    return web.json_response({"events": events})


@routes.get("/events/{event_id}/stats")
async def event_stats(request: web.Request) -> web.Response:
    """Ops only. The event's figures now, and `history` (per second, `history_seconds` back)."""
    event_id = event_id_of(request)
    raw = request.query.get("history_seconds", str(DEFAULT_HISTORY_SECONDS))
    seconds = ascii_id(raw)
    if seconds is None:
        raise ApiError(
            ApiErrorCode.INVALID_REQUEST,
            "history_seconds must be a whole number",
            {"field": "history_seconds"},
        )
    seconds = min(seconds, MAX_HISTORY_SECONDS)
    sampler = request.config_dict[OPS_KEY].sampler
    now = time.time()
    snapshot = await sampler.snapshot(event_id, now)
    history = await sampler.history(event_id, now, seconds) if seconds else []
    return web.json_response({**snapshot, "history": history})


@routes.get("/events/{event_id}/stream")
async def event_stream(request: web.Request) -> web.StreamResponse:
    """Ops only. Server-sent events: `stats` with the event's figures about once a second."""
    event_id = event_id_of(request)
    hub = request.config_dict[HUB_KEY]
    queue = hub.watch(event_id)
    response = await sse_response(request)
    started = checked = time.monotonic()
    try:
        while time.monotonic() - started < STREAM_MAX_SECONDS:
            try:
                snapshot = await asyncio.wait_for(queue.get(), timeout=15.0)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            await sse_send(response, "stats", snapshot)
            if time.monotonic() - checked > SESSION_RECHECK_SECONDS:
                checked = time.monotonic()
                principal = await optional_principal(request)
                if principal is None or principal.role != OPS_ROLE:
                    await sse_send(response, "end", {"reason": "session_ended"})
                    break
    except (ConnectionResetError, ApiError):
        pass
    finally:
        hub.unwatch(event_id, queue)
    return response


@routes.get("/partitions")
async def list_partitions(request: web.Request) -> web.Response:
    """Ops only. Every partition: lease holder, fencing token, heartbeat, queue depth, stats."""
    services = request.config_dict[OPS_KEY]
    keys = services.keys
    pins = {
        int(text(k)): text(v)
        for k, v in (await services.redis.hgetall(keys.partition_pins())).items()
    }
    names = all_partitions(services.settings.partitions, pins)
    async with services.redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.get(keys.lease(name))
            pipe.pttl(keys.lease(name))
            pipe.get(keys.fence(name))
            pipe.llen(keys.queue(name))
            pipe.llen(keys.inflight(name))
            pipe.hgetall(keys.partition_stats(name))
        pipe.zrange(keys.workers(), 0, -1, withscores=True)
        replies = await pipe.execute()
    heartbeats = {text(owner): float(score) for owner, score in replies[-1]}
    now = time.time()
    partitions = []
    for index, name in enumerate(names):
        lease, ttl, fence, depth, inflight, stats = replies[6 * index : 6 * index + 6]
        holder = token = None
        if lease:
            holder, _, raw_token = text(lease).rpartition("|")
            token = int(raw_token) if raw_token.isdigit() else None
        stats_map = text_map(stats)
        last_batch = float(stats_map["last_batch_at"]) if stats_map.get("last_batch_at") else None
        heartbeat = heartbeats.get(holder or "")
        partitions.append(
            {
                "partition": name,
                "queue": keys.queue_name(name),
                "holder": holder,
                "fencing_token": token,
                "newest_fencing_token": int(fence) if fence else None,
                "lease_expires_in_ms": int(ttl) if lease and int(ttl) >= 0 else None,
                "holder_heartbeat_age_seconds": round(now - heartbeat, 3) if heartbeat else None,
                "queue_depth": int(depth),
                "in_flight": int(inflight),
                "decisions_total": int(stats_map.get("decisions", 0)),
                "batches_total": int(stats_map.get("batches", 0)),
                "last_batch_age_seconds": round(now - last_batch, 3) if last_batch else None,
                "pinned_events": sorted(e for e, p in pins.items() if p == name),
            }
        )
    return web.json_response(
        {
            "partitions": partitions,
            "workers": [
                {"worker": w, "heartbeat_age_seconds": round(now - at, 3)}
                for w, at in sorted(heartbeats.items())
            ],
            "rq": {
                "queue_key_prefix": RQ_QUEUE_PREFIX,
                "dashboard": "rq-dashboard --redis-url <ONSALE_REDIS_URL> (see docs/operations.md)",
            },
        }
    )


_EVENT_ID = {"name": "event_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_OPS_REFUSALS = {
    "401": {"description": "Not signed in (`unauthorized`)."},
    "403": {"description": "Signed in without the ops role (`forbidden`)."},
}
_SNAPSHOT = (
    "`{event_id, now, room (line + config + sale_state), partition {name, queue_depth}, "
    "inventory {capacity, sold, held, blocked, available, holds_open}, autopilot, point}`; "
    "`point` holds the charted figures: waiting, active, joins_per_second, "
    "admitted_per_minute, rate_setting, max_active, queue_depth, decisions_per_second, "
    "outcomes_per_second, latency_p50_seconds, latency_p99_seconds, holds_open, sold, "
    "capacity, expiries_per_minute, declines_per_minute, http_per_second, "
    "http_5xx_per_second, http_429_per_second, http_4xx_per_second, error_ratio"
)

OPENAPI_PATHS: dict[str, Any] = {
    "/ops/events": {
        "get": {
            "summary": "Events with a waiting room, and upcoming on-sales (ops only)",
            "x-error-codes": error_codes(GUARD_CODES),
            "tags": ["ops"],
            "security": [{"bearerAuth": []}],
            "responses": {
                "200": {
                    "description": "`{events: [{event_id, name, status, onsale_at, "
                    "starts_at, has_room, sale_state, paused, new_users_per_minute, "
                    "autopilot, partition}]}`"
                },
                **_OPS_REFUSALS,
            },
        }
    },
    "/ops/events/{event_id}/stats": {
        "parameters": [_EVENT_ID],
        "get": {
            "summary": "An event's live figures and their per-second history (ops only)",
            "x-error-codes": error_codes(
                (*GUARD_CODES, ApiErrorCode.INVALID_REQUEST, ApiErrorCode.EVENT_NOT_FOUND)),
            "tags": ["ops"],
            "security": [{"bearerAuth": []}],
            "parameters": [
                {
                    "name": "history_seconds",
                    "in": "query",
                    "schema": {
                        "type": "integer",
                        "default": DEFAULT_HISTORY_SECONDS,
                        "maximum": MAX_HISTORY_SECONDS,
                    },
                }
            ],
            "responses": {
                "200": {"description": _SNAPSHOT + "; plus `history`: a list of points."},
                **_OPS_REFUSALS,
            },
        },
    },
    "/ops/events/{event_id}/stream": {
        "parameters": [_EVENT_ID],
        "get": {
            "summary": "The event's figures as server-sent events, about once a second (ops only)",
            "x-error-codes": error_codes((*GUARD_CODES, ApiErrorCode.EVENT_NOT_FOUND)),
            "tags": ["ops"],
            "security": [{"bearerAuth": []}],
            "responses": {
                "200": {
                    "description": "`event: stats` with the snapshot (see the stats endpoint); "
                    "`event: end` when the session stops being valid.",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
                **_OPS_REFUSALS,
            },
        },
    },
    "/ops/partitions": {
        "get": {
            "summary": "Partition leases, fencing tokens, heartbeats and queue depths (ops only)",
            "x-error-codes": error_codes(GUARD_CODES),
            "tags": ["ops"],
            "security": [{"bearerAuth": []}],
            "responses": {
                "200": {
                    "description": "`{partitions: [{partition, queue, holder, "
                    "fencing_token, newest_fencing_token, lease_expires_in_ms, "
                    "holder_heartbeat_age_seconds, queue_depth, in_flight, "
                    "decisions_total, batches_total, last_batch_age_seconds, "
                    "pinned_events}], workers, rq}`"
                },
                **_OPS_REFUSALS,
            },
        }
    },
}
