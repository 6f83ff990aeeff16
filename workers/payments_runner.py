"""The payments queue's jobs on Redis Cluster, where RQ's own worker cannot run.

RQ 3.0's `Worker` does not accept a cluster client: `Worker._set_connection` reads
`connection.connection_pool`, which `RedisCluster` has not (one pool per node); and its
bookkeeping keys (`rq:workers`, `rq:worker:<name>`, `rq:results:<id>`, ...) lie in many
slots. RQ's job model does work there (`Job.fetch` is one HGETALL), so this runner
keeps RQ's data as RQ writes it: it takes a job id off the queue into an in-flight list
of the same slot (both carry the `{payments}` tag), runs the job's function with RQ's
own `Job`, and records the outcome as RQ does (job status, `ended_at`, the finished or
failed registry), so `rq info` and `Job.fetch` tell the truth. A job in flight when a
runner died is run again by the next one to start: payment jobs are idempotent.
A job's hash and its id on the queue lie in two slots, written by one non-transactional
pipeline that a cluster client sends to the two nodes concurrently, so the id can arrive
first: the runner waits up to `JOB_ARRIVAL_SECONDS` for the hash before giving up on it.
On a single Redis server the payments worker stays RQ's SimpleWorker.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import zlib
from datetime import UTC, datetime

from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job

from workers.keys import RQ_JOB_PREFIX, RQ_QUEUE_PREFIX, rq_failed_registry, rq_finished_registry
from workers.rqjob import FAILURE_TTL_SECONDS, RESULT_TTL_SECONDS, rq_timestamp

log = logging.getLogger("onsale.payments")

WAIT_SECONDS = 1.0
JOB_ARRIVAL_SECONDS = 2.0
JOB_ARRIVAL_POLL_SECONDS = 0.01


class PaymentJobRunner:
    def __init__(self, redis: Redis, queue_name: str):
        self._redis = redis
        self._queue_name = queue_name
        self._queue_key = RQ_QUEUE_PREFIX + queue_name
        self._inflight_key = f"{queue_name}:inflight"

    def recover(self) -> int:
        """Put jobs a dead runner left in flight back at the head of the queue."""
        moved = 0
        while self._redis.lmove(self._inflight_key, self._queue_key, "RIGHT", "LEFT"):
            moved += 1
        return moved

    def run_one(self, wait_seconds: float = 0.0) -> bool:
        """Run the next job, if one comes within `wait_seconds`; False if none did."""
        if wait_seconds > 0:
            raw = self._redis.blmove(self._queue_key, self._inflight_key,
                                     wait_seconds, "LEFT", "RIGHT")  # type: ignore[arg-type]
        else:
            raw = self._redis.lmove(self._queue_key, self._inflight_key, "LEFT", "RIGHT")
        if raw is None:
            return False
        job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        self._run(job_id)
        self._redis.lrem(self._inflight_key, 1, job_id)
        return True

    def drain(self) -> int:
        """Run every queued job (a burst); how many ran."""
        count = 0
        while self.run_one():
            count += 1
        return count

    def serve(self, stop: threading.Event) -> None:
        self.recover()
        while not stop.is_set():
            self.run_one(WAIT_SECONDS)

    def _fetch(self, job_id: str) -> Job:
        """RQ's job, once its hash has arrived (see the module's docstring)."""
        deadline = time.monotonic() + JOB_ARRIVAL_SECONDS
        while True:
            try:
                return Job.fetch(job_id, connection=self._redis)
            except NoSuchJobError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(JOB_ARRIVAL_POLL_SECONDS)

    def _run(self, job_id: str) -> None:
        try:
            job = self._fetch(job_id)
        except Exception:  # noqa: BLE001 - a job gone or unreadable is skipped, as RQ does
            log.warning("payments job %s could not be read", job_id, exc_info=True)
            return
        self._redis.hset(RQ_JOB_PREFIX + job_id, mapping={
            "status": "started", "started_at": rq_timestamp(datetime.now(UTC))})
        try:
            outcome = job.func(*job.args, **job.kwargs)
        except Exception:  # noqa: BLE001 - a failed job goes to RQ's failed registry
            log.warning("payments job %s failed", job_id, exc_info=True)
            self._record(job_id, failed=True, detail=traceback.format_exc())
            return
        log.info("payments job %s: %s", job_id, outcome)
        self._record(job_id, failed=False, detail="")

    def _record(self, job_id: str, *, failed: bool, detail: str) -> None:
        """The job's end as RQ records it: status, ended_at, TTL and the registry entry."""
        now = time.time()
        ttl = FAILURE_TTL_SECONDS if failed else RESULT_TTL_SECONDS
        fields = {"status": "failed" if failed else "finished",
                  "ended_at": rq_timestamp(datetime.now(UTC))}
        registry = (rq_failed_registry if failed else rq_finished_registry)(self._queue_name)
        with self._redis.pipeline(transaction=False) as pipe:  # job and registry: two slots
            pipe.hset(RQ_JOB_PREFIX + job_id, mapping=fields)  # type: ignore[arg-type]
            if failed:  # compressed, as RQ stores it
                pipe.hset(RQ_JOB_PREFIX + job_id, "exc_info", zlib.compress(detail.encode()))
            pipe.expire(RQ_JOB_PREFIX + job_id, ttl)
            pipe.zadd(registry, {job_id: now + ttl})
            pipe.execute()
