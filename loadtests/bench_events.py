"""`onsale bench events [--quick]`: 200 events on sale at once, against one hot event's drain.

Every booking figure elsewhere is one hot event on one partition. Here one
database holds 200 published events (a 500-seat hall each) spread by hash over
`PARTITIONS` partitions, plus one 20,000-seat arena event; in the same run:

- `events_aggregate_decisions_per_s`: with one and with two `onsale worker`
  processes (each serving its fair share of the partitions, as in production),
  a burst of hold requests spread round robin over the 200 events is queued
  through the API's `RequestQueue` while the bench holds every partition's
  lease, then the leases are released at once and the drain is timed from that
  moment to every partition queue empty (taking the leases and loading each
  event's seats included, as after a takeover);
- `single_event_drain_decisions_per_s`: the same burst, all on the arena event,
  one worker process.

Each phase runs on its own Redis key prefix of a private `redis-server` (so its
counters are ours alone), and also reports the CPU the worker processes, that
Redis server and the Postgres backends of the bench database used, with the
Redis commands and Postgres transactions done: `onsale bench scaling` turns them
into per-core costs. Prints a table and writes bench-results/events.json.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import redis
import redis.asyncio
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.launcher import redis_server
from engine.layouts import arena
from engine.pricing import PriceTier
from engine.seatmap import categories
from engine.store.catalog import create_event, create_organizer, create_venue
from engine.store.migrate import upgrade_to_head
from loadtests.booking.cpu import process_cpu
from workers.enqueue import RequestQueue
from workers.keys import Keys
from workers.keys import text as reply_text
from workers.partitions import hashed_partition
from workers.supervisor import HEARTBEAT_SECONDS

if TYPE_CHECKING:
    from api.launcher.settings import Settings

EVENTS = 200
PARTITIONS = 8
HALL_SEATS = 500
ARENA_SEATS = 20_000
QUICK_REQUESTS = 3_000
FULL_REQUESTS = 8_000
"""Per phase: 2.5 seats a request on average, so the arena does not sell out."""
ENQUEUE_CONCURRENCY = 512
WORKER_READY_TIMEOUT_SECONDS = 90.0
DRAIN_TIMEOUT_SECONDS = 180.0
BENCH_DATABASE = "onsale_bench_events"
LOCAL_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_LEASE_MS = 3_600_000
BENCH_LEASE_OWNER = "bench-holding-until-the-burst-is-queued|0"
"""A lease value (`<owner>|<token>`) of no worker: the partitions wait for the release."""


@dataclass(frozen=True)
class Phase:
    """One timed burst: how many decisions, how long, and what it cost where."""

    label: str
    workers: int
    events: int
    requests: int
    seconds: float
    worker_cpu_s: float
    redis_cpu_s: float
    redis_commands: int
    postgres_cpu_s: float
    postgres_transactions: int

    @property
    def decisions_per_s(self) -> float:
        return self.requests / self.seconds


@dataclass(frozen=True)
class Catalog:
    hall_events: list[int]
    arena_event: int


def main(quick: bool, settings: Settings) -> int:
    figures = run(settings.database_url or LOCAL_POSTGRES_URL, quick)
    from loadtests.benchio import print_table, write_results

    print_table([{"phase": p["label"], "workers": p["workers"], "events": p["events"],
                  "decisions/s": round(p["decisions_per_s"])} for p in figures["phases"]],
                ("phase", "workers", "events", "decisions/s"))
    path = write_results("events", figures)
    print(f"results: {path}")
    return 0


def run(database_url: str, quick: bool) -> dict[str, Any]:
    """Both modes and the hot drain, in one run; the figures `onsale bench scaling` keeps."""
    requests = QUICK_REQUESTS if quick else FULL_REQUESTS
    db_url = bench_database(database_url)
    catalog = build_catalog(db_url)
    phases: list[Phase] = []
    with private_redis() as (redis_url, redis_pid):
        for workers in (1, 2):
            phases.append(run_phase(f"{EVENTS} events", db_url, redis_url, redis_pid,
                                    catalog.hall_events, requests, workers))
        phases.append(run_phase("one hot event", db_url, redis_url, redis_pid,
                                [catalog.arena_event], requests, 1))
    by_workers = {p.workers: p for p in phases if p.events == EVENTS}
    hot = phases[-1]
    return {
        "events_on_sale": EVENTS,
        "partitions": PARTITIONS,
        "requests_per_phase": requests,
        "events_aggregate_decisions_per_s": {
            f"{n}_worker{'s' if n > 1 else ''}": round(p.decisions_per_s)
            for n, p in by_workers.items()},
        "single_event_drain_decisions_per_s": round(hot.decisions_per_s),
        "events_decisions_per_worker_core_s": {
            **{f"{n}_worker{'s' if n > 1 else ''}": round(p.requests / max(p.worker_cpu_s, 1e-6))
               for n, p in by_workers.items()},
            "one_hot_event": round(hot.requests / max(hot.worker_cpu_s, 1e-6))},
        "events_vs_single_event": {
            f"{n}_worker{'s' if n > 1 else ''}": round(p.decisions_per_s / hot.decisions_per_s, 2)
            for n, p in by_workers.items()},
        "phases": [{**asdict(p), "decisions_per_s": round(p.decisions_per_s, 1)} for p in phases],
        "cpu_count": os.cpu_count(),
    }


# ---- catalog ------------------------------------------------------------------------------


def _sqlalchemy_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def bench_database(database_url: str) -> str:
    """A fresh `onsale_bench_events` database on the configured server, migrated."""
    url = make_url(_sqlalchemy_url(database_url)).set(database=BENCH_DATABASE)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{BENCH_DATABASE}"'))
    admin.dispose()
    rendered = url.render_as_string(hide_password=False)
    upgrade_to_head(rendered)
    return rendered


def build_catalog(db_url: str) -> Catalog:
    engine = create_engine(db_url)
    now = datetime.now(UTC)

    def tiers(seatmap: dict[str, Any]) -> list[PriceTier]:
        return [PriceTier(c.lower(), c, c, 5_000 - 250 * i)
                for i, c in enumerate(sorted(categories(seatmap)))]

    with engine.begin() as conn:
        organizer = create_organizer(conn, "Bench Festivals")
        hall = dict(arena("Bench Hall", "Benchville", target_seats=HALL_SEATS))
        big = dict(arena("Bench Arena", "Benchville", target_seats=ARENA_SEATS))
        hall_id = create_venue(conn, hall, organizer)
        arena_id = create_venue(conn, big, organizer)

        def event(venue_id: int, seatmap: dict[str, Any], name: str) -> int:
            return create_event(
                conn, organizer_id=organizer, venue_id=venue_id, name=name,
                category="concert", starts_at=now + timedelta(days=30),
                onsale_at=now - timedelta(minutes=1), price_tiers=tiers(seatmap),
                status="published", buyer_limit=8, hold_ttl_seconds=3600)

        halls = [event(hall_id, hall, f"Bench Night {n}") for n in range(1, EVENTS + 1)]
        hot = event(arena_id, big, "Bench Final")
    engine.dispose()
    return Catalog(halls, hot)


# ---- one phase ----------------------------------------------------------------------------


@contextmanager
def private_redis() -> Iterator[tuple[str, int]]:
    """A redis-server of our own on a loopback port, stopped (and its files gone) after."""
    from loadtests.bench_waitingroom import free_port

    with tempfile.TemporaryDirectory(prefix="onsale-bench-redis-") as directory:
        spec = redis_server.RedisServerSpec(Path(directory), port=free_port())
        pid = redis_server.start(spec)
        try:
            yield spec.url(), pid
        finally:
            redis_server.stop(spec, pid)


def run_phase(label: str, db_url: str, redis_url: str, redis_pid: int, events: list[int],
              requests: int, workers: int) -> Phase:
    """Workers standing by (their leases held by the bench), the burst queued, then the
    leases released at once: timed from that moment to every queue empty."""
    prefix = f"benchev{workers}x{len(events)}-{os.getpid()}"
    keys = Keys(prefix)
    print(f"{label}, {workers} worker process(es): {requests:,} holds ...", flush=True)
    client = redis.Redis.from_url(redis_url)
    leases = [keys.lease(f"p{n}") for n in range(PARTITIONS)]
    for lease in leases:
        client.set(lease, BENCH_LEASE_OWNER, px=BENCH_LEASE_MS)
    children = start_workers(db_url, redis_url, prefix, workers)
    try:
        wait_standing_by(client, keys, children)
        asyncio.run(enqueue_burst(redis_url, keys, events, requests, prefix))
        before = _counters(client, redis_pid, children, db_url)
        started = time.perf_counter()
        client.delete(*leases)
        wait_drained(client, keys, children)
        seconds = time.perf_counter() - started
        after = _counters(client, redis_pid, children, db_url)
        check_split(client, leases, children)
    finally:
        stop_workers(children)
        client.close()
    return Phase(label, workers, len(events), requests, seconds,
                 worker_cpu_s=after[0] - before[0], redis_cpu_s=after[1] - before[1],
                 redis_commands=int(after[2] - before[2]),
                 postgres_cpu_s=after[3] - before[3],
                 postgres_transactions=int(after[4] - before[4]))


def start_workers(db_url: str, redis_url: str, prefix: str,
                  count: int) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "ONSALE_DATABASE_URL": db_url, "ONSALE_REDIS_URL": redis_url,
           "ONSALE_REDIS_PREFIX": prefix, "ONSALE_PARTITIONS": str(PARTITIONS),
           "ONSALE_BATCH_MAX": "512", "ONSALE_LOG_LEVEL": "WARNING"}
    code = ("from api.launcher.settings import Settings; "
            "from api.launcher.roots import run_worker; run_worker(Settings.from_env())")
    return [subprocess.Popen([sys.executable, "-c", code], env=env) for _ in range(count)]


def stop_workers(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        child.terminate()
    for child in children:
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def wait_standing_by(client: redis.Redis, keys: Keys,
                     children: list[subprocess.Popen[bytes]]) -> None:
    """Every worker process heartbeating, so each knows its fair share when the leases free."""
    deadline = time.monotonic() + WORKER_READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            raise RuntimeError("a bench worker exited during start-up")
        if client.zcard(keys.workers()) >= len(children):
            time.sleep(2 * HEARTBEAT_SECONDS)  # each has read the count once more
            return
        time.sleep(0.1)
    raise RuntimeError("the bench workers did not start")


def check_split(client: redis.Redis, leases: list[str],
                children: list[subprocess.Popen[bytes]]) -> None:
    """Every worker process held some partitions (else the phase measured fewer processes)."""
    holders = [reply_text(client.get(lease) or b"") for lease in leases]
    idle = [child.pid for child in children
            if not any(f":{child.pid}:" in holder for holder in holders)]
    if idle:
        raise RuntimeError(f"worker process(es) {idle} held no partition")


def wait_drained(client: redis.Redis, keys: Keys,
                 children: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    names = [f"p{n}" for n in range(PARTITIONS)]
    while True:
        with client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.llen(keys.queue(name))
                pipe.llen(keys.inflight(name))
            if not any(pipe.execute()):
                return
        if time.monotonic() > deadline or any(child.poll() is not None for child in children):
            raise RuntimeError("the bench workers did not drain their queues")
        time.sleep(0.005)


async def enqueue_burst(redis_url: str, keys: Keys, events: list[int], requests: int,
                        prefix: str) -> None:
    """`requests` holds round robin over `events`, as the reservation endpoint enqueues them."""
    client = redis.asyncio.Redis.from_url(redis_url)
    queue = RequestQueue(client, keys, max_queue_depth=10 * requests)
    tag = prefix.replace("-", "")
    sequence = iter(range(requests))

    async def sender() -> None:
        for seq in sequence:
            event_id = events[seq % len(events)]
            await queue.enqueue(
                event_id=event_id, buyer_id=1_000_000 + seq, kind="hold",
                params={"quantity": 1 + seq % 4},
                partition=hashed_partition(event_id, PARTITIONS),
                request_id=f"{event_id}-{tag}-{os.urandom(12).hex()}")

    try:
        await asyncio.gather(*(sender() for _ in range(ENQUEUE_CONCURRENCY)))
    finally:
        await client.aclose()


def _counters(client: redis.Redis, redis_pid: int, children: list[subprocess.Popen[bytes]],
              db_url: str) -> tuple[float, float, int, float, int]:
    """Worker CPU, Redis CPU, Redis commands, Postgres backend CPU, Postgres commits."""
    workers = sum(process_cpu(child.pid).cpu_seconds for child in children)
    redis_cpu = process_cpu(redis_pid).cpu_seconds
    commands = int(client.info("stats")["total_commands_processed"])
    url = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        backends = [int(row[0]) for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (BENCH_DATABASE,)).fetchall()]
        commits = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = %s",
            (BENCH_DATABASE,)).fetchone()
    pg_cpu = 0.0
    for pid in backends:
        try:
            pg_cpu += process_cpu(pid).cpu_seconds
        except OSError:
            continue
    return workers, redis_cpu, commands, pg_cpu, int(commits[0]) if commits else 0
