"""The RQ worker onsale runs on plain queues (payments): RQ's `SimpleWorker` without
RQ's worker-command channel, on a Redis client of its own.

RQ's worker subscribes to `rq:pubsub:<worker>` in a redis-py `run_in_thread` thread
whose loop waits up to 60 s per turn (`sleep_time=60`), so that `rq` commands
(shutdown, kill-horse, stop-job) can reach it. At teardown RQ sends UNSUBSCRIBE, then
stops the thread. When the thread reads the UNSUBSCRIBE reply before it is told to
stop, its next turn waits the full 60 s for a subscription that never comes; redis-py
8's `PubSubWorkerThread.stop()` joins that thread without a timeout, so the worker's
exit (a burst run, a SIGTERM from the supervisor) stalls for a minute.

onsale never sends those commands: its processes are stopped by signal (`onsale up`'s
supervisor) and burst runs end when the queue is empty. So this worker does not
subscribe at all. No thread is started, none is left to join, and no version of
redis-py or RQ can bring the stall back.

Its dequeue (a BLPOP of up to `dequeue_timeout`, 405 s) runs on a connection pool of
its own whose socket timeout is above that wait. RQ instead raises the timeout in the
caller's pool settings, which reaches only connections made after it: one already made
(e.g. by the abandoned-jobs sweep that runs before the worker starts) kept redis-py's
5 s default, so every idle dequeue failed after 5 s as "could not connect to Redis",
and RQ backed off doubling up to a minute: after a quiet spell (a Postgres outage
stops all captures) the captures then waited up to a minute. RQ's back-off on a real
Redis error is also capped at MAX_CONNECTION_WAIT_SECONDS here.
"""

from __future__ import annotations

from redis import Redis
from rq import SimpleWorker

MAX_CONNECTION_WAIT_SECONDS = 4.0
"""Longest pause between dequeue attempts while Redis fails (RQ's own cap is 60 s)."""


class SimpleWorkerWithoutCommands(SimpleWorker):
    """A `SimpleWorker` (jobs run in the worker's own process) that opens no pub/sub
    connection and starts no thread. Stop it by SIGTERM/SIGINT or run it in burst mode."""

    max_connection_wait_time = MAX_CONNECTION_WAIT_SECONDS

    def _set_connection(self, connection: Redis) -> Redis:
        """A client of its own for RQ's blocking dequeue: the caller's settings with a socket
        timeout above the longest BLPOP, in a fresh pool (the caller's pool is left as is)."""
        pool = connection.connection_pool
        settings = dict(pool.connection_kwargs)
        settings["socket_timeout"] = max(float(settings.get("socket_timeout") or 0),
                                         float(self.connection_timeout))
        own_pool = type(pool)(connection_class=pool.connection_class, **settings)
        return Redis(connection_pool=own_pool)

    def subscribe(self) -> None:
        """RQ's command channel is not used by onsale (see the module docstring)."""

    def unsubscribe(self) -> None:
        """Nothing was subscribed, so nothing is torn down."""
