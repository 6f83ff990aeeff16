"""A payments job whose worker was killed mid-run is retried as soon as a payments worker
starts again on the host, not minutes later when RQ's heartbeat for it expires.

Invariant: no payment job is lost with its worker (no money authorized without a sale
decided, no capture left undone).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from redis import Redis
from rq import Queue, Retry

from workers.abandoned_jobs import retry_abandoned_jobs
from workers.processes import process_alive

pytestmark = pytest.mark.integration

WORKER = """
import sys
from redis import Redis
from rq import Queue, SimpleWorker
redis = Redis.from_url(sys.argv[1])
SimpleWorker([Queue(sys.argv[2], connection=redis)], connection=redis).work(burst=True)
"""


def test_a_job_of_a_killed_worker_is_queued_again(redis_url: str, redis_prefix: str) -> None:
    redis = Redis.from_url(redis_url)
    queue = Queue(f"{redis_prefix}-payments", connection=redis)
    job = queue.enqueue("time.sleep", 30, retry=Retry(max=2), job_timeout=60)
    worker = subprocess.Popen([sys.executable, "-c", WORKER, redis_url, queue.name])
    try:
        deadline = time.monotonic() + 30
        while job.get_status(refresh=True) != "started":
            assert time.monotonic() < deadline, "the worker never started the job"
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        assert retry_abandoned_jobs(queue, redis, process_alive) == [job.id]
        assert job.get_status(refresh=True) == "queued"
        assert job.id in queue.get_job_ids()
        assert retry_abandoned_jobs(queue, redis, process_alive) == [], "retried once"
    finally:
        if worker.poll() is None:
            worker.kill()
        job.delete()
        queue.delete(delete_jobs=True)
