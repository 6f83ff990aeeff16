"""`onsale bench catalog`: search, browse and seat-map latency over a catalog of 100,000 events.

Set-up: a database of its own (`onsale_bench_catalog` on the configured
server), migrated, with the demo catalog plus 100,000 generated events (10,000
with --quick); loading is idempotent, so only the first run pays for it. The
API runs in a child process (the real app, one process as in production per
core); this process is the client, so the two cores are split between them.

Workloads, each a fixed number of requests from CONCURRENCY concurrent clients:

- search: what fans type — prefixes of performer, venue, city and event words,
  1 or 2 words, 2 letters and up;
- browse: GET /events with the filters fans use (category, city, city and
  category, performer, next 30 days, price range, cheapest first, only with
  tickets left), and a fifth of them follow `next_cursor` to page 2;
- seatmap: GET /events/{id}/seats of the 20,000-seat arena (gzip, as a browser
  asks), while availability deltas arrive at DELTAS_PER_S, so the map is
  re-rendered as it would be during a rush.

Latency is measured by the client, from sending to the last byte.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import random
import socket
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loadtests.benchio import print_table, write_results

if TYPE_CHECKING:
    from api.launcher.settings import Settings

BENCH_DATABASE = "onsale_bench_catalog"
LOCAL_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/14"
REDIS_PREFIX = "onsalebench-catalog"
EVENTS_FULL = 100_000
EVENTS_QUICK = 10_000
REQUESTS_FULL = 3_000
REQUESTS_QUICK = 300
CONCURRENCY = 4
DELTAS_PER_S = 20
SEED = 20261202


@dataclass(frozen=True)
class Workload:
    name: str
    paths: list[str]
    follow_cursor_share: float = 0.0
    headers: dict[str, str] | None = None


# ---------------------------------------------------------------- set-up


def bench_database_url(database_url: str | None) -> str:
    """The benchmark's own database on the configured server, created and migrated."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from engine.store.migrate import upgrade_to_head

    server = make_url(database_url or LOCAL_POSTGRES_URL).set(drivername="postgresql+psycopg")
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                            {"name": BENCH_DATABASE}).first() is None:
                conn.execute(text(f'CREATE DATABASE "{BENCH_DATABASE}"'))
    finally:
        admin.dispose()
    url = server.set(database=BENCH_DATABASE).render_as_string(hide_password=False)
    upgrade_to_head(url)
    return url


def load_catalog(url: str, events: int) -> tuple[dict[str, Any], float]:
    from sqlalchemy import create_engine, text

    from engine.store.demo import load_demo_catalog

    started = time.perf_counter()
    summary = load_demo_catalog(url, extra_events=events)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            # The listing triggers rewrite each generated row three times during the bulk
            # load; compact once, as one would after any bulk load.
            conn.execute(text("VACUUM (FULL, ANALYZE) event_listings"))
            conn.execute(text("VACUUM event_listings"))  # and the visibility map
    finally:
        engine.dispose()
    return summary, time.perf_counter() - started


def vocabulary(url: str) -> dict[str, list[Any]]:
    """What fans would type and pick, read from the catalog itself."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            performers = conn.execute(text(
                "SELECT id, name FROM performers ORDER BY id")).all()
            places = conn.execute(text(
                "SELECT DISTINCT city, category FROM event_listings"
                " WHERE status = 'published'")).all()
            venues = conn.execute(text("SELECT name FROM venues")).scalars().all()
            names = conn.execute(text(
                "SELECT name FROM event_listings TABLESAMPLE SYSTEM (1) LIMIT 500")).scalars().all()
    finally:
        engine.dispose()
    return {"performers": list(performers), "places": list(places), "venues": list(venues),
            "event_names": list(names)}


def search_paths(words: dict[str, list[Any]], count: int, rng: random.Random) -> list[str]:
    from urllib.parse import quote

    sources = ([name for _, name in words["performers"]] + words["venues"]
               + [city for city, _ in words["places"]] + words["event_names"])
    paths = []
    for _ in range(count):
        text_words = [w for w in rng.choice(sources).replace(":", " ").split() if len(w) > 1]
        if not text_words:
            continue
        start = rng.randrange(len(text_words))
        chosen = text_words[start:start + rng.choice((1, 1, 2))]
        last = chosen[-1]
        chosen[-1] = last[:rng.randint(min(2, len(last)), len(last))]
        paths.append("/search?q=" + quote(" ".join(chosen)))
    return paths


def browse_paths(words: dict[str, list[Any]], count: int, rng: random.Random) -> list[str]:
    from datetime import UTC, datetime, timedelta
    from urllib.parse import quote

    today = datetime.now(UTC).date()
    month = (today + timedelta(days=30)).isoformat()
    paths = []
    for _ in range(count):
        city, category = rng.choice(words["places"])
        performer_id, performer = rng.choice(words["performers"])
        low = rng.choice((2000, 3000, 4000))
        shape = rng.choice((
            "/events",
            f"/events?category={category}",
            f"/events?city={quote(city)}",
            f"/events?city={quote(city)}&category={category}",
            f"/events?performer_id={performer_id}",
            f"/events?performer={quote(performer)}",
            f"/events?from={today.isoformat()}&to={month}",
            f"/events?min_price_cents={low}&max_price_cents={low + 4000}",
            f"/events?sort=price&category={category}",
            f"/events?available=true&city={quote(city)}",
            "/events?sort=-starts_at&limit=50",
        ))
        paths.append(shape)
    return paths


# ---------------------------------------------------------------- the server


def _serve(settings: Settings, port: int) -> None:
    import logging

    from aiohttp import web

    from api.http.app import create_app

    logging.basicConfig(level=logging.WARNING)
    web.run_app(create_app(settings), host="127.0.0.1", port=port, access_log=None,
                print=None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _wait_ready(base: str) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the API did not start")


# ---------------------------------------------------------------- load


async def run_workload(base: str, workload: Workload) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = list(reversed(workload.paths))
    rng = random.Random(SEED)

    async def get(session: aiohttp.ClientSession, path: str) -> dict[str, Any] | None:
        started = time.perf_counter()
        async with session.get(base + path, headers=workload.headers) as response:
            body = await response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        if workload.follow_cursor_share and response.status == 200:
            return json.loads(body)  # type: ignore[no-any-return]
        return None

    async def client(session: aiohttp.ClientSession) -> None:
        while queue:
            path = queue.pop()
            page = await get(session, path)
            cursor = page and page.get("next_cursor")
            if cursor and rng.random() < workload.follow_cursor_share:
                joiner = "&" if "?" in path else "?"
                await get(session, f"{path}{joiner}cursor={cursor}")

    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        for path in workload.paths[:20]:  # warm connections, caches and plans
            await get(session, path)
        latencies.clear()
        statuses.clear()
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "per_s": round(len(ordered) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max_ms": round(ordered[-1], 2),
        "statuses": statuses,
    }


def arena_seat_ids(url: str, event_id: int) -> list[int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(
                "SELECT s.id FROM seats s JOIN events e ON e.venue_id = s.venue_id"
                " WHERE e.id = :id"), {"id": event_id}).scalars())
    finally:
        engine.dispose()


async def publish_deltas(settings: Settings, event_id: int, seat_ids: list[int],
                         stop: asyncio.Event) -> int:
    """Availability deltas for the arena, as the partition consumer would send them."""
    import redis.asyncio

    from workers.keys import Keys

    keys = Keys(settings.redis_prefix)
    client = redis.asyncio.Redis.from_url(settings.redis_url or LOCAL_REDIS_URL)
    rng = random.Random(SEED)
    version = 10_000_000 + int(time.time())  # above anything the database holds
    sent = 0
    try:
        await client.delete(keys.availability_stream(event_id))
        while not stop.is_set():
            version += 1
            seats = rng.sample(seat_ids, 4)
            body = json.dumps({"version": version, "changes": {
                str(seat): rng.choice(("held", "available")) for seat in seats}})
            await client.xadd(keys.availability_stream(event_id),
                              {"version": version, "delta": body}, maxlen=5000,
                              approximate=True)
            await client.publish(keys.availability_channel(event_id), body)
            sent += 1
            await asyncio.sleep(1 / DELTAS_PER_S)
        await client.delete(keys.availability_stream(event_id))
    finally:
        await client.aclose()
    return sent


async def _bench(settings: Settings, base: str, workloads: list[Workload],
                 arena_event_id: int, seat_ids: list[int]) -> dict[str, dict[str, Any]]:
    await _wait_ready(base)
    results = {}
    for workload in workloads:
        stop = asyncio.Event()
        publisher = None
        if workload.name == "seatmap":
            publisher = asyncio.create_task(publish_deltas(settings, arena_event_id, seat_ids,
                                                            stop))
        print(f"-- {workload.name}: {len(workload.paths):,} requests, {CONCURRENCY} clients",
              flush=True)
        results[workload.name] = await run_workload(base, workload)
        stop.set()
        if publisher is not None:
            results[workload.name]["deltas_applied"] = await publisher
    return results


def main(quick: bool, settings: Settings) -> int:
    events = EVENTS_QUICK if quick else EVENTS_FULL
    requests_per_kind = REQUESTS_QUICK if quick else REQUESTS_FULL
    url = bench_database_url(settings.database_url)
    print(f"catalog bench: {events:,} generated events in {BENCH_DATABASE}", flush=True)
    summary, load_seconds = load_catalog(url, events)
    listed = summary["extra_events"] + len(summary["events"])
    print(f"catalog ready: {listed:,} events ({load_seconds:.1f} s, 0 if already loaded)",
          flush=True)
    rng = random.Random(SEED)
    words = vocabulary(url)
    arena = summary["surge_event_id"]
    workloads = [
        Workload("search", search_paths(words, requests_per_kind, rng)),
        Workload("browse", browse_paths(words, requests_per_kind, rng), follow_cursor_share=0.2),
        Workload("seatmap", [f"/events/{arena}/seats"] * requests_per_kind,
                 headers={"Accept-Encoding": "gzip"}),
    ]
    server_settings = settings.replace(database_url=url,
                                       redis_url=settings.redis_url or LOCAL_REDIS_URL,
                                       redis_prefix=REDIS_PREFIX, demo_data=False,
                                       log_level="WARNING")
    port = _free_port()
    context = multiprocessing.get_context("spawn")
    server = context.Process(target=_serve, args=(server_settings, port), daemon=True)
    server.start()
    try:
        results = asyncio.run(_bench(server_settings, f"http://127.0.0.1:{port}", workloads,
                                     arena, arena_seat_ids(url, arena)))
    finally:
        server.terminate()
        server.join(timeout=10)
    rows = [{"workload": name, **{k: v for k, v in figures.items() if k != "statuses"}}
            for name, figures in results.items()]
    print()
    print_table(rows, ("workload", "requests", "per_s", "p50_ms", "p99_ms", "max_ms"))
    payload = {
        "events": listed,
        "search_p99_ms": results["search"]["p99_ms"],
        "browse_p99_ms": results["browse"]["p99_ms"],
        "seatmap_p99_ms": results["seatmap"]["p99_ms"],
        "search_per_s": results["search"]["per_s"],
        "browse_per_s": results["browse"]["per_s"],
        "seatmap_per_s": results["seatmap"]["per_s"],
        "workloads": results,
        "config": {"concurrency": CONCURRENCY, "requests_per_workload": requests_per_kind,
                   "seatmap_seats": len(arena_seat_ids(url, arena)),
                   "deltas_per_s": DELTAS_PER_S, "quick": quick,
                   "catalog_load_seconds": round(load_seconds, 1)},
    }
    path = write_results("catalog", payload)
    print(f"wrote {path}")
    problems = [f"{name}: {figures['statuses']}" for name, figures in results.items()
                if set(figures["statuses"]) - {200}]
    for problem in problems:
        print(f"PROBLEM non-200 answers in {problem}")
    return 1 if problems else 0
