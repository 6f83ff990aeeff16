"""`onsale bench ops`: what watching costs. The ops side must stay cheap during a rush.

Measured against the real Redis and Postgres, in one process:

- `on_batch_us`: the partition consumer's metrics hook for a batch of `BATCH` decided
  requests (Prometheus updates + one Redis pipeline), per batch;
- `snapshot_ms`: one dashboard sample of an event (waiting room, queue, autopilot, the
  per-second window, seats and holds from Postgres at most every 2 s), as the stream does
  once a second; `history_ms`: the page's first load, 300 seconds of per-second points;
- `scrape_ms`: one `/metrics` body with `EVENTS` waiting rooms (state read from Redis);
- `autopilot_step_ms`: one autopilot step for an event whose autopilot is on (sample,
  measure p99, decide, write the rate; audits are coalesced to one per 10 s).

Every Redis key carries the bench's own prefix and is deleted at the end; the events it
creates in Postgres stay (they are small and named "ops bench").
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio as aioredis

from loadtests.benchio import print_table, write_results

if TYPE_CHECKING:
    from api.launcher.settings import Settings

BATCH = 256
EVENTS = 20
ROUNDS_QUICK, ROUNDS_FULL = 30, 200


def make_bench_events(database_url: str, count: int, name: str = "ops bench") -> list[int]:
    """`count` published events on sale now, each on a 2,000-seat hall of one tier."""
    from engine.pricing import PriceTier
    from engine.store.catalog import create_event, create_organizer, create_venue
    from engine.store.db import make_engine

    seatmap = {
        "name": "Bench Hall", "city": "Benchville",
        "sections": [{"name": "Stalls", "rank": 1, "rows": [
            {"label": f"R{r}", "rank": r + 1, "seats": [
                {"label": str(n + 1), "x": 10.0 * n, "y": 10.0 * r, "category": "A"}
                for n in range(50)]}
            for r in range(40)]}],
        "ga_zones": [],
    }
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            organizer = create_organizer(conn, "Ops Bench Promotions")
            venue = create_venue(conn, seatmap, organizer)
            return [
                create_event(conn, organizer_id=organizer, venue_id=venue, name=name,
                             category="concert", starts_at=now + timedelta(days=30),
                             onsale_at=now, price_tiers=[PriceTier("a", "A", "A", 5000)],
                             status="published")
                for _ in range(count)
            ]
    finally:
        engine.dispose()


def _timed(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median": statistics.median(ordered), "p99": ordered[int(0.99 * (len(ordered) - 1))]}


async def _run(settings: Settings, rounds: int) -> list[dict[str, Any]]:
    from api.http.metrics import state_families
    from api.ops.autopilot_runner import AutopilotRunner
    from api.ops.common import OPS_KEY, make_services
    from api.ops.rooms import change_room, set_autopilot
    from engine.store.db import make_engine
    from workers.decider import BatchDecision, Outcome
    from workers.keys import Keys
    from workers.metrics import BatchMetrics

    prefix = f"opsbench-{uuid.uuid4().hex[:8]}"
    settings = settings.replace(redis_prefix=prefix)
    events = make_bench_events(settings.database_url or "", EVENTS)
    sync_redis = redis.Redis.from_url(settings.redis_url or "")
    async_redis = aioredis.Redis.from_url(settings.redis_url or "")
    db = make_engine(settings.database_url or "")
    services = make_services(settings, async_redis, db)
    rows: list[dict[str, Any]] = []
    try:
        for event_id in events:
            await change_room(async_redis, services.room, event_id, {}, sale="open")
            for fan in range(200):
                await services.room.join(event_id, fan + 1, time.time())
        await set_autopilot(async_redis, services.ops_keys, events[0], True, {})
        hook = BatchMetrics(sync_redis, Keys(prefix))
        now = time.time()
        decision = BatchDecision(outcomes=[
            Outcome(f"{events[0]}-{i}", events[0], i, "hold", "held", {}, now, now - 0.01 * i)
            for i in range(BATCH)])
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            hook.on_batch("p0", decision, time.time())
            samples.append((time.perf_counter() - started) * 1e6)
        rows.append({"figure": "on_batch_us", "unit": "µs/batch", **_timed(samples)})

        for name, action in (
            ("snapshot_ms", lambda: services.sampler.snapshot(events[0], time.time())),
            ("history_ms", lambda: services.sampler.history(events[0], time.time(), 300)),
            ("autopilot_step_ms", lambda: AutopilotRunner(services, "bench").step_event(
                events[0], time.time())),
        ):
            samples = []
            for _ in range(rounds):
                started = time.perf_counter()
                await action()
                samples.append((time.perf_counter() - started) * 1e3)
            rows.append({"figure": name, "unit": "ms", **_timed(samples)})

        class _App(dict[Any, Any]):
            pass

        from api.http.appkeys import DB_ENGINE_KEY, REDIS_KEY, SETTINGS_KEY

        app: Any = _App({SETTINGS_KEY: settings, REDIS_KEY: async_redis,
                         DB_ENGINE_KEY: db, OPS_KEY: services})
        samples = []
        for _ in range(max(5, rounds // 10)):
            started = time.perf_counter()
            await state_families(app)
            samples.append((time.perf_counter() - started) * 1e3)
        rows.append({"figure": f"scrape_ms ({EVENTS} rooms)", "unit": "ms", **_timed(samples)})
    finally:
        for pattern in (f"{prefix}*", f"rq:*{prefix}*"):
            keys = list(sync_redis.scan_iter(match=pattern, count=1000))
            if keys:
                sync_redis.delete(*keys)
        sync_redis.close()
        await async_redis.aclose()
        db.dispose()
    return rows


def main(quick: bool, settings: Settings) -> int:
    rounds = ROUNDS_QUICK if quick else ROUNDS_FULL
    rows = asyncio.run(_run(settings, rounds))
    print_table(rows, ["figure", "unit", "median", "p99"])
    path = write_results("ops", {"rounds": rounds, "batch": BATCH, "rows": rows})
    print(f"results: {path}")
    return 0
