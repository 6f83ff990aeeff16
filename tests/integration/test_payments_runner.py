"""The payments queue's runner (the payments worker on Redis Cluster, where RQ's own Worker
cannot connect): every job runs and ends where RQ's tools look, a job in flight when its
runner died runs again. On one server and on the cluster."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry

from tests.support.redis_targets import single_and_cluster_redis_url
from workers.keys import RQ_JOB_PREFIX, RQ_QUEUE_PREFIX, Keys
from workers.payments import Followup
from workers.payments_runner import PaymentJobRunner
from workers.rqjob import rq_job_hash

pytestmark = pytest.mark.integration

redis_url = single_and_cluster_redis_url()


def push(redis: Any, queue_name: str, job_id: str, func: str, *args: Any) -> None:
    job = Followup(queue_name, job_id, rq_job_hash(job_id, queue_name, func, args, 60))
    with redis.pipeline(transaction=False) as pipe:
        job.push(pipe)
        pipe.execute()


def test_jobs_end_finished_or_failed_where_rq_looks(redis_client: Any,
                                                    redis_prefix: str) -> None:
    queue_name = Keys(redis_prefix).payments_queue_name()
    push(redis_client, queue_name, "ok-1", "builtins.len", "abc")
    push(redis_client, queue_name, "bad-1", "builtins.int", "not a number")
    assert Queue(queue_name, connection=redis_client).count == 2
    assert PaymentJobRunner(redis_client, queue_name).drain() == 2
    assert Job.fetch("ok-1", connection=redis_client).get_status() == JobStatus.FINISHED
    assert Job.fetch("bad-1", connection=redis_client).get_status() == JobStatus.FAILED
    assert FinishedJobRegistry(queue_name, connection=redis_client).get_job_ids() == ["ok-1"]
    assert FailedJobRegistry(queue_name, connection=redis_client).get_job_ids() == ["bad-1"]
    assert Queue(queue_name, connection=redis_client).count == 0


def test_a_job_in_flight_when_its_runner_died_runs_again(redis_client: Any,
                                                        redis_prefix: str) -> None:
    """Payment jobs are idempotent: running one twice is safe, losing one is not."""
    queue_name = Keys(redis_prefix).payments_queue_name()
    push(redis_client, queue_name, "cut-1", "builtins.len", "abc")
    # A runner took the job and died before running it.
    redis_client.lmove(RQ_QUEUE_PREFIX + queue_name, f"{queue_name}:inflight", "LEFT", "RIGHT")
    successor = PaymentJobRunner(redis_client, queue_name)
    assert successor.recover() == 1
    assert successor.drain() == 1
    assert Job.fetch("cut-1", connection=redis_client).get_status() == JobStatus.FINISHED
    assert redis_client.llen(f"{queue_name}:inflight") == 0


def test_a_job_whose_id_arrives_before_its_hash_still_runs(redis_client: Any,
                                                          redis_prefix: str) -> None:
    """A cluster pipeline writes the job's hash and its queue entry on two nodes at once:
    the id may be popped first, and the job must not be dropped for that."""
    queue_name = Keys(redis_prefix).payments_queue_name()
    job = Followup(queue_name, "late-1", rq_job_hash("late-1", queue_name, "builtins.len",
                                                     ("abc",), 60))
    redis_client.rpush(RQ_QUEUE_PREFIX + queue_name, "late-1")
    late_hash = threading.Timer(
        0.2, lambda: redis_client.hset(RQ_JOB_PREFIX + "late-1", mapping=job.mapping))
    late_hash.start()
    try:
        assert PaymentJobRunner(redis_client, queue_name).drain() == 1
    finally:
        late_hash.join()
    assert Job.fetch("late-1", connection=redis_client).get_status() == JobStatus.FINISHED
