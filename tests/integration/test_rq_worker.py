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


def test_every_connection_the_worker_uses_waits_as_long_as_its_dequeue(
        redis_url: str, redis_prefix: str) -> None:
    """A connection the pool held before the worker was made kept redis-py 8's 5 s default
    socket timeout, so an idle dequeue (BLPOP for minutes) timed out and RQ backed off for up
    to a minute while payments waited. Checked on the connection the pool hands out next."""
    redis = Redis.from_url(redis_url)  # no explicit socket timeout, as onsale's client
    try:
        redis.ping()  # the pool now holds a connection made with the default timeout
        queue = Queue(f"{redis_prefix}-rqworker-timeout", connection=redis)
        worker = SimpleWorkerWithoutCommands([queue], connection=redis,
                                             name=f"{redis_prefix}-rqworker-timeout")
        connection = redis.connection_pool.get_connection()
        try:
            assert connection.socket_timeout is not None
            assert connection.socket_timeout >= worker.dequeue_timeout, (
                "a dequeue would time out before its wait ends")
        finally:
            redis.connection_pool.release(connection)
    finally:
        redis.close()
