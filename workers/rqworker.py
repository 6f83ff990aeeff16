"""The RQ worker onsale runs on plain queues (payments): RQ's `SimpleWorker` without
RQ's worker-command channel.

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
"""

from __future__ import annotations

from redis import Redis
from rq import SimpleWorker


class SimpleWorkerWithoutCommands(SimpleWorker):
    """A `SimpleWorker` (jobs run in the worker's own process) that opens no pub/sub
    connection and starts no thread. Stop it by SIGTERM/SIGINT or run it in burst mode."""

    def _set_connection(self, connection: Redis) -> Redis:
        """RQ's timeout set-up, then the pool's open connections are closed so that every
        connection the worker uses carries that timeout (see the module docstring)."""
        connection = super()._set_connection(connection)
        connection.connection_pool.reset()
        return connection

    def subscribe(self) -> None:
        """RQ's command channel is not used by onsale (see the module docstring)."""

    def unsubscribe(self) -> None:
        """Nothing was subscribed, so nothing is torn down."""
