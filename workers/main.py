"""The worker processes' loops: `onsale worker`, `onsale payments-worker` and `onsale notifier`.

They take what they need built (clients, gateway, mailer) and plain values; the
launcher's composition roots (`api.launcher.roots`) read the settings and build them.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from redis import Redis

from workers.consumer import ConsumerConfig
from workers.gateway import PaymentGateway
from workers.keys import Keys, text
from workers.mailers import Mailer
from workers.partitions import partition_for
from workers.redis_client import LuaScript, is_cluster_client
from workers.supervisor import PartitionSupervisor

log = logging.getLogger("onsale.worker")

PAYMENTS_MAINTENANCE_SECONDS = 15


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        log.info("signal %s: finishing the current batch, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def run(redis: Redis, engine: sa.Engine, *, redis_prefix: str, partitions: int,
        config: ConsumerConfig) -> None:
    """A partition consumer process: serves its fair share of partitions, stands by for the rest.

    `engine` should pool a connection per partition plus two: each partition consumer
    keeps one for its commits; loads use the rest."""
    from workers.metrics import BatchMetrics
    from workers.pg_store import PostgresBookingStore

    keys = Keys(redis_prefix)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    supervisor = PartitionSupervisor(
        redis, keys, lambda: PostgresBookingStore(engine), owner, partitions, config,
        on_batch=BatchMetrics(redis, keys).on_batch)
    supervisor.run(_stop_on_signals())


def _admission_ender(redis: Redis, prefix: str) -> Callable[[int, int], None]:
    """The waiting room's own end-of-session script, for this synchronous process."""
    from waitingroom.keys import RoomKeys
    from waitingroom.scripts import END_SESSION

    script = LuaScript(redis, END_SESSION)

    def end(event_id: int, buyer_id: int) -> None:
        keys = RoomKeys(prefix, event_id)
        script(keys=[keys.members, keys.sessions], args=[str(buyer_id)])

    return end


def _start_offer_rounds(engine: sa.Engine, requests: Any,
                        partition_of: Callable[[int], str], site_url: str) -> None:
    """The sold-out waiting list's offer rounds, on a daemon thread of this process; the
    offer mails link to pages under `site_url`."""
    from workers.waiting_list import run_offer_rounds

    def enqueue_offer(event_id: int, buyer_id: int, params: dict[str, object]) -> str:
        enqueued = requests.enqueue(event_id=event_id, buyer_id=buyer_id, kind="offer",
                                    params=params, partition=partition_of(event_id))
        return str(enqueued.request_id)

    threading.Thread(target=run_offer_rounds, args=(engine, enqueue_offer, threading.Event()),
                     kwargs={"site_url": site_url}, name="waiting-list-offers",
                     daemon=True).start()


def run_payments(redis: Redis, engine: sa.Engine, gateway: PaymentGateway, *,
                 redis_prefix: str, partitions: int, max_queue_depth: int,
                 signing_key: bytes, site_url: str = "") -> None:
    """An RQ SimpleWorker (without RQ's command channel: workers/rqworker.py) on the payments
    queue, with the payment context configured. SIGTERM or SIGINT stops it."""
    from rq import Queue

    from workers import payments
    from workers.abandoned_jobs import retry_abandoned_jobs
    from workers.enqueue import SyncRequestQueue
    from workers.payment_sweep import start_settle_sweep
    from workers.payments_runner import PaymentJobRunner
    from workers.processes import process_alive
    from workers.rqworker import SimpleWorkerWithoutCommands

    keys = Keys(redis_prefix)

    def partition_of(event_id: int) -> str:
        pins = {int(k): text(v) for k, v in redis.hgetall(keys.partition_pins()).items()}
        return partition_for(event_id, partitions, pins)

    requests = SyncRequestQueue(redis, keys, max_queue_depth)
    _start_offer_rounds(engine, requests, partition_of, site_url)
    payments.configure(payments.PaymentsContext(
        redis=redis, keys=keys, gateway=gateway,
        requests=requests,
        partition_of=partition_of,
        end_admission=_admission_ender(redis, redis_prefix),
        **payments.postgres_parts(engine, signing_key),
    ))
    if is_cluster_client(redis):  # RQ's Worker cannot run on a cluster (payments_runner)
        PaymentJobRunner(redis, keys.payments_queue_name()).serve(_stop_on_signals())
        return
    queue = Queue(keys.payments_queue_name(), connection=redis)
    retry_abandoned_jobs(queue, redis, process_alive)
    # Captures and voids that went missing (failed for good in a long outage) are pushed again.
    start_settle_sweep(redis, keys, threading.Event())
    # Registry maintenance finds jobs whose worker died mid-run (their heartbeat expired)
    # and retries them: every PAYMENTS_MAINTENANCE_SECONDS instead of RQ's 10 minutes.
    SimpleWorkerWithoutCommands([queue], connection=redis,
                                maintenance_interval=PAYMENTS_MAINTENANCE_SECONDS
                                ).work(with_scheduler=False)


def run_notifier(engine: sa.Engine, mailer: Mailer) -> None:
    """Send the notifications outbox until SIGTERM or SIGINT."""
    from workers.notifier import serve

    serve(engine, mailer, _stop_on_signals())
