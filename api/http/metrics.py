"""Prometheus metrics of the API, `GET /metrics`, and the per-event HTTP counts of the dashboard.

- `http_metrics_middleware` times every request (`onsale_http_request_duration_seconds`,
  labelled by route template, never by path or user) and counts responses by
  status (`onsale_http_responses_total`). Streams (SSE) are counted, not timed.
  For routes of one event it also tallies requests and errors per event in
  memory; `metrics_ctx` flushes the tally once a second into the per-second
  Redis hashes the ops dashboard reads (`workers.ops_counters`).
- `GET /metrics` exposes this process's metrics or, in multiprocess mode
  (`PROMETHEUS_MULTIPROC_DIR` set for every process of a run, see
  `multiprocess_environment`), those of every API and worker process of the
  run, plus gauges read from Redis at scrape time: waiting rooms, partition
  queues and leases, seats and holds. Those are state, so no process has to
  keep them up to date, and they are right whichever process is scraped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections import Counter as Tally
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

import workers.metrics  # noqa: F401  (sets the multiprocess identity before any metric exists)
from api.http.appkeys import DB_ENGINE_KEY, REDIS_KEY, SETTINGS_KEY
from api.http.params import ascii_id
from waitingroom.keys import events_registry
from waitingroom.wire import text_map
from workers.ops_counters import OpsKeys, add_counts

log = logging.getLogger("onsale.metrics")

FLUSH_INTERVAL_SECONDS = 1.0
SCRAPE_TIMEOUT_SECONDS = 5.0
MULTIPROCESS_DIR_NAME = "prometheus"
_UNTALLIED_PREFIXES = ("/ops", "/metrics")
_EVENT_PARAMS = ("event_id", "request_id", "hold_id", "order_id")

HTTP_LATENCY = Histogram(
    "onsale_http_request_duration_seconds",
    "Time from a request reaching the API to its response (streams are not timed).",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_RESPONSES = Counter(
    "onsale_http_responses_total",
    "Responses of the API by route template and status code.",
    ["method", "route", "status"],
)


def multiprocess_environment(data_dir: Path) -> dict[str, str]:
    """What `onsale up` adds to its children's environment: a fresh shared metrics directory.

    Emptied on every run: counters restart with the run, and files of dead
    processes from an earlier run cannot add up into this one.
    """
    directory = Path(data_dir).resolve() / MULTIPROCESS_DIR_NAME
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    return {"PROMETHEUS_MULTIPROC_DIR": str(directory)}


def multiprocess_mode() -> bool:
    return bool(getattr(values.ValueClass, "_multiprocess", False))


# -------------------------------------------------------------- per-request instrumentation


class EventTally:
    """Requests and errors per event and second, kept in memory between flushes."""

    def __init__(self) -> None:
        self.counts: dict[tuple[int, int], Tally[str]] = {}

    def add(self, event_id: int, second: int, status: int) -> None:
        tally = self.counts.get((event_id, second))
        if tally is None:
            tally = self.counts[(event_id, second)] = Tally()
        tally["http"] += 1
        if status >= 500:
            tally["http_5xx"] += 1
        elif status == 429:
            tally["http_429"] += 1
        elif status >= 400:
            tally["http_4xx"] += 1

    def take(self) -> dict[tuple[int, int], Tally[str]]:
        taken, self.counts = self.counts, {}
        return taken


TALLY_KEY = web.AppKey("ops_event_tally", EventTally)


def route_label(request: web.Request) -> str:
    """The route template (`/events/{event_id}/queue`): bounded, never a raw path."""
    route = request.match_info.route
    resource = route.resource if route is not None else None
    if resource is None:
        return "unmatched"
    return resource.canonical


def event_of(request: web.Request) -> int | None:
    """The event a request is about, from the route's event, request, hold or order id."""
    if request.path.startswith(_UNTALLIED_PREFIXES):
        return None
    for name in _EVENT_PARAMS:
        raw = request.match_info.get(name)
        if raw:
            event_id = ascii_id(raw.split("-", 1)[0])
            if event_id is not None:
                return event_id
    return None


_LATENCY_CHILDREN: dict[tuple[str, str], Any] = {}
_RESPONSE_CHILDREN: dict[tuple[str, str, int], Any] = {}


def _observe(method: str, route: str, status: int, seconds: float | None) -> None:
    """Labelled children are looked up once per (method, route[, status]): on the hottest
    routes (queue polling) `labels()` on every request costs more than the observation."""
    if seconds is not None:
        latency = _LATENCY_CHILDREN.get((method, route))
        if latency is None:
            latency = _LATENCY_CHILDREN[(method, route)] = HTTP_LATENCY.labels(method, route)
        latency.observe(seconds)
    responses = _RESPONSE_CHILDREN.get((method, route, status))
    if responses is None:
        responses = _RESPONSE_CHILDREN[(method, route, status)] = HTTP_RESPONSES.labels(
            method, route, str(status))
    responses.inc()


def record_response(request: web.Request, status: int, seconds: float | None) -> None:
    """Count (and, unless `seconds` is None, time) one answer; tally it for its event."""
    _observe(request.method, route_label(request), status, seconds)
    event_id = event_of(request)
    if event_id is None:
        return
    # The tally lives on the main app; `config_dict` (built per request) finds it from a sub-app.
    tally = request.app.get(TALLY_KEY) or request.config_dict.get(TALLY_KEY)
    if tally is not None:
        tally.add(event_id, int(time.time()), status)


@web.middleware
async def http_metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Time and count every request; put it just inside the request-context middleware."""
    started = time.perf_counter()
    status = 500
    streamed = False
    try:
        response = await handler(request)
        status = response.status
        streamed = response.content_type == "text/event-stream"
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        record_response(request, status, None if streamed else time.perf_counter() - started)


async def metrics_ctx(app: web.Application) -> AsyncIterator[None]:
    """Flush the per-event HTTP tally to Redis once a second for the ops dashboard."""
    tally = EventTally()
    app[TALLY_KEY] = tally
    task = asyncio.create_task(_flush_forever(app, tally))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await _flush_or_warn(app, tally)  # Redis may be down at shutdown: never fail it


async def _flush_forever(app: web.Application, tally: EventTally) -> None:
    while True:
        await asyncio.sleep(FLUSH_INTERVAL_SECONDS)
        await _flush_or_warn(app, tally)


async def _flush_or_warn(app: web.Application, tally: EventTally) -> None:
    try:
        await _flush(app, tally)
    except Exception:  # noqa: BLE001 - lose a second of counts, never the API
        log.warning("flushing per-event HTTP counts failed", exc_info=True)


async def _flush(app: web.Application, tally: EventTally) -> None:
    """Write the tallies of events with a waiting room (made-up event ids create no keys)."""
    taken = tally.take()
    if not taken:
        return
    prefix = app[SETTINGS_KEY].redis_prefix
    redis = app[REDIS_KEY]
    rooms = {int(m) for m in await redis.smembers(events_registry(prefix))}
    keys = OpsKeys(prefix)
    async with redis.pipeline(transaction=False) as pipe:
        for (event_id, second), counts in taken.items():
            if event_id in rooms:
                add_counts(pipe, keys, event_id, second, counts)
        await pipe.execute()


# -------------------------------------------------------------- scrape-time state from Redis


class _Snapshot(Collector):
    """Metric families prepared (asynchronously) before the registry renders them."""

    def __init__(self, families: list[Metric]):
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


class _ProcessRegistry(Collector):
    """This process's own metrics (single-process mode): the default registry's content."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


async def state_families(app: web.Application) -> list[Metric]:
    """Gauges and running totals read from Redis (and the cached seat counts) right now."""
    from api.ops.common import OPS_KEY, make_services

    services = app.get(OPS_KEY) or make_services(
        app[SETTINGS_KEY], app[REDIS_KEY], app[DB_ENGINE_KEY]
    )
    now = time.time()
    room = {
        name: GaugeMetricFamily(f"onsale_waitingroom_{name}", doc, labels=["event_id"])
        for name, doc in (
            ("waiting_fans", "Fans holding a place in line, not yet admitted."),
            ("active_sessions", "Admitted sessions alive now."),
            ("max_active_sessions", "The max active users setting."),
            ("admission_rate_setting_per_second", "The new users per minute setting, per s."),
            ("paused", "1 while admissions are paused."),
            ("autopilot_enabled", "1 while the autopilot sets the admission rate."),
        )
    }
    totals = {
        name: CounterMetricFamily(f"onsale_waitingroom_{name}", doc, labels=["event_id"])
        for name, doc in (
            ("joins", "Places handed out in the line."),
            ("admissions", "Fans admitted from the line."),
            ("skips", "Places skipped because their fan walked away."),
        )
    }
    seats = GaugeMetricFamily(
        "onsale_event_seats", "Seats and GA places by state.", labels=["event_id", "state"]
    )
    capacity = GaugeMetricFamily(
        "onsale_event_capacity_seats", "Seats plus GA capacity.", labels=["event_id"]
    )
    holds = GaugeMetricFamily(
        "onsale_event_holds_open", "Holds not yet bought, released or expired.", labels=["event_id"]
    )
    for event_id in await services.room.configured_event_ids():
        state = await services.sampler.live(event_id, now)
        label = [str(event_id)]
        if state.room is not None:
            summary = state.room
            room["waiting_fans"].add_metric(label, summary.waiting)
            room["active_sessions"].add_metric(label, summary.active_sessions)
            room["max_active_sessions"].add_metric(label, summary.max_active_users)
            room["admission_rate_setting_per_second"].add_metric(
                label, summary.new_users_per_minute / 60.0
            )
            room["paused"].add_metric(label, 1.0 if summary.paused else 0.0)
            totals["joins"].add_metric(label, summary.joined)
            totals["admissions"].add_metric(label, summary.admitted_total)
            totals["skips"].add_metric(label, summary.skipped_total)
        room["autopilot_enabled"].add_metric(label, 1.0 if state.autopilot_enabled else 0.0)
        if state.inventory is not None:
            inventory = state.inventory.to_json()
            for name in ("sold", "held", "blocked", "available"):
                seats.add_metric([str(event_id), name], inventory[name])
            capacity.add_metric(label, inventory["capacity"])
            holds.add_metric(label, inventory["holds_open"])
    return [
        *room.values(),
        *totals.values(),
        seats,
        capacity,
        holds,
        *await partition_families(app),
    ]


async def partition_families(app: web.Application) -> list[Metric]:
    from workers.keys import Keys
    from workers.partitions import all_partitions

    keys = Keys(app[SETTINGS_KEY].redis_prefix)
    redis = app[REDIS_KEY]
    pins = {int(k): v for k, v in text_map(await redis.hgetall(keys.partition_pins())).items()}
    names = all_partitions(app[SETTINGS_KEY].partitions, pins)
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.llen(keys.queue(name))
            pipe.llen(keys.inflight(name))
            pipe.get(keys.lease(name))
        replies = await pipe.execute()
    depth = GaugeMetricFamily(
        "onsale_booking_queue_depth", "Requests waiting on a partition queue.", labels=["partition"]
    )
    inflight = GaugeMetricFamily(
        "onsale_booking_in_flight_requests",
        "Requests taken by the partition's consumer, not yet published.",
        labels=["partition"],
    )
    held = GaugeMetricFamily(
        "onsale_booking_partition_lease_held",
        "1 while some consumer holds the partition's lease.",
        labels=["partition"],
    )
    token = GaugeMetricFamily(
        "onsale_booking_partition_fencing_token",
        "Fencing token of the partition's current lease.",
        labels=["partition"],
    )
    for index, name in enumerate(names):
        queued, taken, lease = replies[3 * index : 3 * index + 3]
        depth.add_metric([name], int(queued))
        inflight.add_metric([name], int(taken))
        held.add_metric([name], 1.0 if lease else 0.0)
        if lease:
            raw_token = lease.decode().rpartition("|")[2]
            if raw_token.isdigit():
                token.add_metric([name], int(raw_token))
    return [depth, inflight, held, token]


routes = web.RouteTableDef()


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Anyone who can reach it (keep it off the public listener): Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_mode():
        # prometheus_client leaves this constructor unannotated.
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ProcessRegistry())
    try:
        families = await asyncio.wait_for(state_families(request.app), SCRAPE_TIMEOUT_SECONDS)
    except Exception:  # noqa: BLE001 - process metrics are still worth serving
        log.warning("reading state metrics from Redis failed", exc_info=True)
        families = []
    registry.register(_Snapshot(families))
    body = await asyncio.to_thread(generate_latest, registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


OPENAPI_PATHS: dict[str, Any] = {
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics of every API and worker process, plus live state",
            "description": "Text exposition format. `onsale_` prefix, base units; see "
            "docs/operations.md for the list. Meant for Prometheus, not the public.",
            "tags": ["operations"],
            "responses": {
                "200": {
                    "description": "Prometheus text format.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    }
}
