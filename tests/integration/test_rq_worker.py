"""The payments worker leaves no pub/sub thread behind: RQ's command-channel thread is what
stalled a worker's exit for 60 s under redis-py 8 (workers/rqworker.py says how), so the
worker onsale runs must never start one. These tests check the mechanism, not a duration;
pytest-timeout bounds the rest."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from redis import Redis
from redis.client import PubSubWorkerThread
from rq import Queue

from workers.rqworker import SimpleWorkerWithoutCommands

pytestmark = pytest.mark.integration


def pubsub_threads() -> list[str]:
    """The job RQ runs: the names of the redis-py pub/sub threads alive while it runs."""
    return [t.name for t in threading.enumerate() if isinstance(t, PubSubWorkerThread)]


def pubsub_threads_alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if isinstance(t, PubSubWorkerThread) and t.is_alive()]


def test_a_burst_run_does_its_jobs_without_a_command_channel(
        redis_client: Any, redis_prefix: str) -> None:
    redis: Redis = redis_client
    queue = Queue(f"{redis_prefix}-rqworker", connection=redis)
    job = queue.enqueue(pubsub_threads)
    worker = SimpleWorkerWithoutCommands([queue], connection=redis,
                                         name=f"{redis_prefix}-rqworker")

    assert worker.work(burst=True, with_scheduler=False), "the worker did no job"

    assert job.return_value() == [], "a pub/sub thread ran beside the job"
    assert worker.pubsub is None and worker.pubsub_thread is None, \
        "the worker opened RQ's command channel, whose teardown waits on redis-py's thread"
    assert pubsub_threads_alive() == [], "a pub/sub thread outlived the worker"
    assert redis.pubsub_numsub(worker.pubsub_channel_name) == [
        (worker.pubsub_channel_name.encode(), 0)], "something listens on the worker's channel"


def test_every_burst_of_a_polling_loop_ends_without_a_thread(
        redis_client: Any, redis_prefix: str) -> None:
    """As the browser test drives it: many short bursts on an empty queue, where RQ's own
    worker raced its pub/sub thread at every exit."""
    redis: Redis = redis_client
    queue = Queue(f"{redis_prefix}-rqworker-empty", connection=redis)
    for _ in range(20):
        SimpleWorkerWithoutCommands([queue], connection=redis).work(
            burst=True, with_scheduler=False)
        assert pubsub_threads_alive() == []


def test_an_idle_dequeue_waits_out_its_timeout_on_a_client_used_before(
        redis_url: str, redis_prefix: str) -> None:
    """The payments worker's client has served the abandoned-jobs sweep before the worker is
    built: its dequeue must still wait on an empty queue for as long as it asks, not fail
    after redis-py's 5 s default socket timeout (RQ then backed off for up to a minute)."""
    redis = Redis.from_url(redis_url)
    redis.ping()  # a pooled connection made with redis-py's defaults
    queue = Queue(f"{redis_prefix}-rqworker-idle", connection=redis)
    worker = SimpleWorkerWithoutCommands([queue], connection=redis)

    timeout = worker.connection.connection_pool.connection_kwargs["socket_timeout"]
    assert timeout >= worker.dequeue_timeout
    assert worker.connection.connection_pool is not redis.connection_pool
    assert redis.connection_pool.connection_kwargs.get("socket_timeout") != timeout, \
        "the caller's pool was changed"
    # Longer than redis-py's default socket timeout: returns None (idle), never raises.
    assert worker.dequeue_job_and_maintain_ttl(timeout=6, max_idle_time=6) is None
