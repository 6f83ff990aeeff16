"""Entry points of the worker processes: `onsale worker`, `onsale payments-worker` and
`onsale notifier`."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from redis import Redis

from workers.consumer import ConsumerConfig
from workers.keys import Keys, text
from workers.partitions import partition_for
from workers.redis_client import is_cluster_client, sync_client
from workers.supervisor import PartitionSupervisor

if TYPE_CHECKING:
    from api.settings import Settings

log = logging.getLogger("onsale.worker")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        log.info("signal %s: finishing the current batch, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def run(settings: Settings) -> None:
    """A partition consumer process: serves its fair share of partitions, stands by for the rest."""
    from engine.store.db import make_engine
    from workers.metrics import BatchMetrics
    from workers.pg_store import PostgresBookingStore

    redis = sync_client(settings.redis_url or "", health_check_interval=30)
    keys = Keys(settings.redis_prefix)
    # Each partition consumer keeps one connection for its commits; loads use the rest.
    engine = make_engine(settings.database_url or "", pool_size=settings.partitions + 2)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    supervisor = PartitionSupervisor(
        redis, keys, lambda: PostgresBookingStore(engine), owner, settings.partitions,
        ConsumerConfig(batch_max=settings.batch_max, lease_ttl_ms=settings.lease_ttl_ms),
        on_batch=BatchMetrics(redis, keys).on_batch)
    supervisor.run(_stop_on_signals())
    engine.dispose()


def _admission_ender(redis: Redis, prefix: str) -> Callable[[int, int], None]:
    """The waiting room's own end-of-session script, for this synchronous process."""
    from waitingroom.keys import RoomKeys
    from waitingroom.scripts import END_SESSION

    script = redis.register_script(END_SESSION)

    def end(event_id: int, buyer_id: int) -> None:
        keys = RoomKeys(prefix, event_id)
        script(keys=[keys.members, keys.sessions], args=[str(buyer_id)])

    return end


def run_payments(settings: Settings) -> None:
    """An RQ SimpleWorker (without RQ's command channel: workers/rqworker.py) on the payments
    queue, with the payment context configured. SIGTERM or SIGINT stops it."""
    from rq import Queue

    from engine.store.db import make_engine
    from workers import payments
    from workers.enqueue import SyncRequestQueue
    from workers.gateway import TestGateway
    from workers.payments_runner import PaymentJobRunner
    from workers.rqworker import SimpleWorkerWithoutCommands

    redis = sync_client(settings.redis_url or "", health_check_interval=30)
    keys = Keys(settings.redis_prefix)
    engine = make_engine(settings.database_url or "")

    def partition_of(event_id: int) -> str:
        pins = {int(k): text(v) for k, v in redis.hgetall(keys.partition_pins()).items()}
        return partition_for(event_id, settings.partitions, pins)

    payments.configure(payments.PaymentsContext(
        redis=redis, keys=keys, gateway=TestGateway(),
        requests=SyncRequestQueue(redis, keys, settings.max_queue_depth),
        partition_of=partition_of,
        end_admission=_admission_ender(redis, settings.redis_prefix),
        **payments.postgres_parts(engine, settings.signing_key()),
    ))
    if is_cluster_client(redis):  # RQ's Worker cannot run on a cluster (payments_runner)
        PaymentJobRunner(redis, keys.payments_queue_name()).serve(_stop_on_signals())
        return
    queue = Queue(keys.payments_queue_name(), connection=redis)
    SimpleWorkerWithoutCommands([queue], connection=redis).work(with_scheduler=False)


def run_notifier(settings: Settings) -> None:
    """Send the notifications outbox until SIGTERM or SIGINT."""
    from workers.notifier import serve

    serve(settings, _stop_on_signals())
