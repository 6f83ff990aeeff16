"""onsale itself as a contender: the partition pipeline, exactly as it runs in production.

Harness side: a fresh database of its own, migrated with onsale's migrations,
holding the workload's arena (created through the organizer code path) as one
published event pinned to its own partition, and one real `onsale worker`
process consuming it. Client side: each buyer enqueues through the same
`RequestQueue` the API's reservation endpoint uses, then waits for the
decision the consumer publishes on the partition's results channel (one pub/sub
connection per client process, as the API's SSE hub does).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
import redis.asyncio
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine.pricing import PriceTier
from engine.seatmap import categories
from engine.store.catalog import create_event, create_organizer, create_venue
from engine.store.migrate import upgrade_to_head
from loadtests.booking import redisclean
from loadtests.booking.contender import SOLD_OUT, Audit, BookingRequest, Decision
from loadtests.booking.cpu import process_cpu
from loadtests.booking.workload import Workload
from waitingroom.wire import text as reply_text
from workers.enqueue import RequestQueue, SyncRequestQueue
from workers.keys import Keys, job_id_for_partition
from workers.publish import results_message_lines
from workers.redis_packing import with_hiredis_packing
from workers.supervisor import WORKER_STALE_SECONDS

PARTITION = "bench"
WORKER_READY_TIMEOUT_SECONDS = 60.0
WORKER_STOP_TIMEOUT_SECONDS = 15.0
DECISION_TIMEOUT_SECONDS = 60.0
MAX_QUEUE_DEPTH = 100_000
CLIENT_CONNECTIONS = 512
"""At least the buyers of a client process: a buyer never waits for a connection, so
requests reach the queue in the order the harness issued them."""


@dataclass(frozen=True)
class Drain:
    """A full queue decided by one partition: how long it took and the worker's CPU."""

    requests: int
    seconds: float
    worker_cpu_seconds: float
    batches: int

    @property
    def decisions_per_s(self) -> float:
        return self.requests / self.seconds


def onsale_database_url(pg_url: str) -> str:
    url = make_url(pg_url)
    return url.set(database=f"{url.database}_onsale").render_as_string(hide_password=False)


def _sqlalchemy_url(pg_url: str) -> str:
    url = make_url(pg_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def _refuse_stray_workers(client: redis.Redis, keys: Keys) -> None:
    """A worker left running on the bench's prefix (an earlier run killed hard) would take
    the partition and decide the run's requests: its figures would be measured, not ours."""
    alive = client.zrangebyscore(keys.workers(), time.time() - WORKER_STALE_SECONDS, "+inf")
    if alive:
        raise RuntimeError("an onsale worker is already running on the bench's Redis prefix "
                           f"({', '.join(reply_text(a) for a in alive)}); stop it first")


class OnsaleContender:
    name = "onsale"

    def __init__(self) -> None:
        self._worker: subprocess.Popen[bytes] | None = None
        self._section_ids: dict[str, int] = {}
        self._event_id = 0

    # ------------------------------------------------------------------ harness process

    def setup(self, workload: Workload, pg_url: str, redis_url: str, redis_prefix: str) -> None:
        client = redis.Redis.from_url(redis_url)
        try:
            _refuse_stray_workers(client, Keys(redis_prefix))
        finally:
            client.close()
        self._db_url = _sqlalchemy_url(onsale_database_url(pg_url))
        self._redis_url, self._prefix = redis_url, redis_prefix
        self._capacity = workload.capacity
        admin_url = make_url(_sqlalchemy_url(pg_url)).set(database="postgres")
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        name = make_url(self._db_url).database
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        upgrade_to_head(self._db_url)
        engine = create_engine(self._db_url)
        now = datetime.now(UTC)
        with engine.begin() as conn:
            organizer = create_organizer(conn, "Bench Promotions")
            venue_id = create_venue(conn, workload.seatmap, organizer)
            tiers = [PriceTier(c.lower(), c, c, 10_000 - 500 * i)
                     for i, c in enumerate(sorted(categories(workload.seatmap)))]
            self._event_id = create_event(
                conn, organizer_id=organizer, venue_id=venue_id, name="Bench Night",
                category="concert", starts_at=now + timedelta(days=30),
                onsale_at=now - timedelta(minutes=1), price_tiers=tiers, status="published",
                buyer_limit=8, hold_ttl_seconds=3600)
        engine.dispose()
        redisclean.delete_run_keys(redis_url, redis_prefix)
        client = redis.Redis.from_url(redis_url)
        client.hset(Keys(redis_prefix).partition_pins(), str(self._event_id), PARTITION)
        client.close()

    def start(self) -> None:
        env = {**os.environ, "ONSALE_DATABASE_URL": self._db_url,
               "ONSALE_REDIS_URL": self._redis_url, "ONSALE_REDIS_PREFIX": self._prefix,
               "ONSALE_PARTITIONS": "1", "ONSALE_BATCH_MAX": "512",
               "ONSALE_MAX_QUEUE_DEPTH": str(MAX_QUEUE_DEPTH), "ONSALE_LOG_LEVEL": "WARNING"}
        self._worker = subprocess.Popen(
            [sys.executable, "-c",
             "from api.launcher.settings import Settings; "
             "from api.launcher.roots import run_worker; run_worker(Settings.from_env())"],
            env=env)
        client = redis.Redis.from_url(self._redis_url)
        lease = Keys(self._prefix).lease(PARTITION)
        ours = f":{self._worker.pid}:"  # the lease value starts with the owner host:pid:tag
        deadline = time.monotonic() + WORKER_READY_TIMEOUT_SECONDS
        try:
            while ours not in (holder := reply_text(client.get(lease) or b"")):
                if time.monotonic() > deadline or self._worker.poll() is not None:
                    raise RuntimeError("onsale worker did not take the bench partition"
                                       + (f" (held by {holder})" if holder else ""))
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.terminate()
            try:
                self._worker.wait(WORKER_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self._worker.kill()
                self._worker.wait()
            self._worker = None
        redisclean.delete_run_keys(self._redis_url, self._prefix)

    def audit(self) -> Audit:
        engine = create_engine(self._db_url)
        with engine.connect() as conn:
            claims, distinct, unknown = conn.execute(text(
                "SELECT count(*), count(DISTINCT c.seat_id),"
                " count(*) FILTER (WHERE s.id IS NULL)"
                " FROM seat_claims c LEFT JOIN seats s ON s.id = c.seat_id"
                " WHERE c.event_id = :e AND c.state IN ('held', 'sold')"),
                {"e": self._event_id}).one()
        engine.dispose()
        return Audit(sold=int(distinct), oversold=int(claims - distinct + unknown))

    def drain(self, workload: Workload, requests: int) -> Drain:
        """One partition's capacity with no client in the loop: queue `requests` of the
        workload's stream (same enqueue code path), then start the worker and time it from
        taking the lease to an empty queue. Call after `setup`, instead of `start`."""
        client = redis.Redis.from_url(self._redis_url)
        keys = Keys(self._prefix)
        self._load_event(self._db_url, self._prefix)
        queue = SyncRequestQueue(client, keys, MAX_QUEUE_DEPTH)
        try:
            for seq in range(1, requests + 1):
                request = workload.request(seq)
                queue.enqueue(event_id=self._event_id, buyer_id=request.buyer_id, kind="hold",
                              params=self._params(request), partition=PARTITION,
                              request_id=self._new_request_id())
            self.start()
            assert self._worker is not None
            started, cpu_started = time.perf_counter(), process_cpu(self._worker.pid).cpu_seconds
            deadline = time.monotonic() + DECISION_TIMEOUT_SECONDS
            while client.llen(keys.queue(PARTITION)) or client.llen(keys.inflight(PARTITION)):
                if time.monotonic() > deadline or self._worker.poll() is not None:
                    raise RuntimeError("the onsale worker did not drain its queue")
                time.sleep(0.005)
            took = time.perf_counter() - started
            cpu = process_cpu(self._worker.pid).cpu_seconds - cpu_started
            batches = int(client.hget(keys.partition_stats(PARTITION), "batches") or 0)
        finally:
            client.close()
        return Drain(requests, took, cpu, batches)

    def _load_event(self, db_url: str, redis_prefix: str) -> None:
        """The bench event (the only one in its database) and its sections by name."""
        engine = create_engine(db_url)
        with engine.connect() as conn:
            self._event_id = int(conn.execute(text("SELECT max(id) FROM events")).scalar_one())
            self._section_ids = dict(conn.execute(text(
                "SELECT s.name, s.id FROM sections s JOIN events e ON e.venue_id = s.venue_id"
                " WHERE e.id = :e"), {"e": self._event_id}).all())
        engine.dispose()
        self._id_tag = redisclean.run_tag(redis_prefix)

    def _params(self, request: BookingRequest) -> dict[str, Any]:
        params: dict[str, Any] = {"quantity": request.quantity}
        if request.section_name is not None:
            params["section_id"] = self._section_ids[request.section_name]
        return params

    def _new_request_id(self) -> str:
        return f"{self._event_id}-{self._id_tag}-{os.urandom(16).hex()}"

    # ------------------------------------------------------------------ client processes

    async def open(self, workload: Workload, pg_url: str, redis_url: str,
                   redis_prefix: str) -> None:
        self._keys = Keys(redis_prefix)
        self._load_event(_sqlalchemy_url(onsale_database_url(pg_url)), redis_prefix)
        self._redis = with_hiredis_packing(redis.asyncio.Redis(
            connection_pool=redis.asyncio.BlockingConnectionPool.from_url(
                redis_url, max_connections=CLIENT_CONNECTIONS, timeout=DECISION_TIMEOUT_SECONDS)))
        self._queue = RequestQueue(self._redis, self._keys, MAX_QUEUE_DEPTH)
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self._keys.results_channel(PARTITION))
        self._listener = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        async for message in self._pubsub.listen():
            if message.get("type") != "message":
                continue
            received_wall, received_mono = time.time(), time.monotonic()
            for position, (request_id, body) in enumerate(
                    results_message_lines(message["data"])):
                future = self._waiting.pop(request_id, None)
                if future is not None and not future.done():
                    item = json.loads(body)
                    # When the batch became durable, on this machine's monotonic clock; the
                    # position keeps the decisions of one batch in their queue order.
                    committed = item.get("committed_at", received_wall)
                    item["decided_mono"] = (received_mono - (received_wall - committed)
                                            + position * 1e-7)
                    future.set_result(item)

    async def book(self, request: BookingRequest) -> Decision:
        # The id as the queue will store it (in the partition's hash slot), so the decision
        # on the results channel finds its waiter.
        request_id = job_id_for_partition(self._new_request_id(), PARTITION)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        await self._queue.enqueue(event_id=self._event_id, buyer_id=request.buyer_id,
                                  kind="hold", params=self._params(request), partition=PARTITION,
                                  request_id=request_id)
        try:
            outcome = await future  # the harness bounds the wait (RunConfig.decision_timeout_s)
        finally:
            self._waiting.pop(request_id, None)  # gone already unless it was cancelled
        if outcome["status"] == "held":
            seats = tuple(seat["seat_id"] for seat in outcome["result"]["seats"])
            return Decision(seat_ids=seats, decided_at=outcome["decided_mono"])
        error = (outcome.get("result") or {}).get("error") or {}
        return Decision(code=error.get("code", SOLD_OUT), decided_at=outcome["decided_mono"])

    async def close(self) -> None:
        self._listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._listener
        await self._pubsub.aclose()
        await self._redis.aclose()
