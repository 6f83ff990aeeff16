"""Baseline: one plain RQ job per request, one `rq.SimpleWorker`, no batching.

What a team gets by putting bookings on a queue with stock RQ: the client
enqueues a job and blocks on its result (`Job.latest_result(timeout=...)`,
which waits on the result stream, no polling); the single worker runs each job
in its own process (SimpleWorker, no fork per job) and the job books in one
Postgres transaction on a connection the worker process keeps open. One worker
means no lock is ever contended, so the job uses a plain `FOR UPDATE`.

RQ is a blocking library, so the client runs it in a thread pool sized for
every buyer of the process. Logging is `--quiet`: RQ's per-job INFO lines
would only cost the worker time. The worker class is stock `SimpleWorker` without
RQ's command channel (workers/rqworker.py): the per-job path is RQ's own, and the
SIGTERM that ends a run is not stalled for a minute by the channel's pub/sub thread.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import redis
from rq import Queue, Worker

from loadtests.booking import pgseats, redisclean
from loadtests.booking.contender import SOLD_OUT, Audit, BookingRequest, Decision
from loadtests.booking.workload import Workload

TABLE = "vrq"
CLIENT_THREADS = 64
"""At least the buyers per client process, so no buyer waits for a thread."""
RESULT_TIMEOUT_SECONDS = 60
WORKER_READY_TIMEOUT_SECONDS = 30.0
WORKER_STOP_TIMEOUT_SECONDS = 15.0

_connections: dict[str, psycopg.Connection[Any]] = {}
_hold_sql = {
    in_section: pgseats.hold_best_sql(TABLE, in_section=in_section, lock="FOR UPDATE")
    for in_section in (False, True)
}


def book_job(pg_url: str, request_id: str, buyer_id: int, quantity: int,
             section_id: int | None) -> dict[str, Any]:
    """The RQ job: best available in one transaction on the worker's long-lived connection."""
    conn = _connections.get(pg_url)
    if conn is None or conn.closed:
        conn = _connections[pg_url] = psycopg.connect(pg_url, autocommit=True)
    row = conn.execute(_hold_sql[section_id is not None], {
        "section_id": section_id, "limit": quantity, "request_id": request_id,
        "buyer_id": buyer_id,
    }).fetchone()
    assert row is not None
    return {"seat_ids": list(row[0] or ()), "decided_at": time.monotonic()}


def queue_name(redis_prefix: str) -> str:
    return f"{redis_prefix}-vanilla-booking"


class VanillaRqContender:
    name = "vanilla-rq"

    def __init__(self, client_threads: int = CLIENT_THREADS) -> None:
        self._client_threads = client_threads
        self._pg_url = self._redis_url = self._prefix = ""
        self._capacity = 0
        self._worker: subprocess.Popen[bytes] | None = None
        self._redis: redis.Redis | None = None
        self._queue: Queue | None = None
        self._executor: ThreadPoolExecutor | None = None

    def setup(self, workload: Workload, pg_url: str, redis_url: str, redis_prefix: str) -> None:
        self._pg_url, self._redis_url, self._prefix = pg_url, redis_url, redis_prefix
        self._capacity = workload.capacity
        redisclean.delete_run_keys(redis_url, redis_prefix)
        pgseats.create_and_load(pg_url, TABLE, workload)

    def start(self) -> None:
        self._worker = subprocess.Popen(
            [sys.executable, "-m", "rq.cli", "worker",
             "--worker-class", "workers.rqworker.SimpleWorkerWithoutCommands",
             "--url", self._redis_url, "--name", f"{self._prefix}-worker-{os.getpid()}",
             "--quiet", queue_name(self._prefix)],
            stdout=subprocess.DEVNULL,
        )
        connection = redis.Redis.from_url(self._redis_url)
        try:
            queue = Queue(queue_name(self._prefix), connection=connection)
            deadline = time.monotonic() + WORKER_READY_TIMEOUT_SECONDS
            while not Worker.all(connection=connection, queue=queue):
                if self._worker.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the RQ SimpleWorker did not come up")
                time.sleep(0.1)
        finally:
            connection.close()

    def stop(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)  # warm shutdown: finish the current job
            try:
                worker.wait(WORKER_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        redisclean.delete_run_keys(self._redis_url, self._prefix)

    def audit(self) -> Audit:
        return pgseats.audit(self._pg_url, TABLE, self._capacity)

    async def open(self, workload: Workload, pg_url: str, redis_url: str,
                   redis_prefix: str) -> None:
        self._pg_url, self._prefix = pg_url, redis_prefix
        pool = redis.BlockingConnectionPool.from_url(redis_url,
                                                     max_connections=self._client_threads)
        self._redis = redis.Redis(connection_pool=pool)
        self._queue = Queue(queue_name(redis_prefix), connection=self._redis)
        self._executor = ThreadPoolExecutor(self._client_threads, thread_name_prefix="buyer")

    async def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        if self._redis is not None:
            self._redis.close()

    async def book(self, request: BookingRequest) -> Decision:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._enqueue_and_wait, request)

    def _enqueue_and_wait(self, request: BookingRequest) -> Decision:
        assert self._queue is not None
        job = self._queue.enqueue_call(
            book_job,
            args=(self._pg_url, request.request_id, request.buyer_id, request.quantity,
                  request.section_id),
            job_id=f"{self._prefix}-{request.request_id}",
        )
        result = job.latest_result(timeout=RESULT_TIMEOUT_SECONDS)
        if result is None:
            raise TimeoutError(f"no result for job {job.id}")
        if result.type != result.Type.SUCCESSFUL:
            raise RuntimeError(f"job {job.id} failed: {result.exc_string}")
        outcome = result.return_value
        assert isinstance(outcome, dict)
        seat_ids = tuple(outcome["seat_ids"])
        return Decision(seat_ids=seat_ids, code=None if seat_ids else SOLD_OUT,
                        decided_at=outcome["decided_at"])
