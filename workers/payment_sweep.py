"""The settle sweep: every authorized order ends captured or voided, however long an outage.

A capture or void job is pushed by the partition's publisher when the sale is decided.
It can still go missing: it failed for good (RQ's retries and its own transient retry
spent during a long Postgres or Redis outage, so it sits in RQ's failed registry), or a
Redis loss took it. The money then stays held without tickets. The payments worker runs
this sweep every SWEEP_SECONDS: for each order authorized longer than GRACE_SECONDS ago
whose sale the partition has decided (the sell request's record says sold or rejected)
and whose capture or void is neither queued nor running, it pushes that job again (the
same job id; the job bodies are idempotent by order id). Orders no longer authorized
leave the index. A sale not yet decided is left to the partition.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from workers.keys import RQ_JOB_PREFIX, Keys, rq_failed_registry, text
from workers.payments import settle_job

log = logging.getLogger("onsale.payments")

SWEEP_SECONDS = 15.0
GRACE_SECONDS = 30.0
"""An order younger than this is left alone: its sale is usually being decided."""
_BUSY = {"queued", "started", "scheduled", "deferred"}
_DECIDED = {"sold", "rejected"}


def settle_authorized(redis: Redis, keys: Keys, now: float,
                      grace_seconds: float = GRACE_SECONDS) -> list[str]:
    """Push the missing capture or void of every settled sale; the job ids pushed."""
    index = keys.authorized_orders()
    pushed: list[str] = []
    for raw_id in list(redis.zrangebyscore(index, 0, now - grace_seconds)):
        order_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
        order = {text(k): text(v) for k, v in redis.hgetall(keys.order(order_id)).items()}
        if order.get("status") != "authorized":
            redis.zrem(index, order_id)
            continue
        sell_id = order.get("sell_request_id", "")
        sell = {text(k): text(v) for k, v in redis.hgetall(keys.request(sell_id)).items()}
        if sell.get("status") not in _DECIDED:
            continue  # not decided yet (or its record is gone): the partition decides it
        job = settle_job(keys, order_id, sell["status"], json.loads(sell.get("result") or "{}"))
        state = redis.hget(RQ_JOB_PREFIX + job.job_id, "status")
        if state is not None and text(state) in _BUSY:
            continue
        with redis.pipeline(transaction=True) as pipe:
            pipe.zrem(rq_failed_registry(job.queue_name), job.job_id)
            job.push(pipe)
            pipe.execute()
        pushed.append(job.job_id)
    if pushed:
        log.warning("settle sweep: pushed %d missing captures or voids again: %s",
                    len(pushed), ", ".join(pushed))
    return pushed


def start_settle_sweep(redis: Redis, keys: Keys, stop: threading.Event,
                       clock: Callable[[], float] = time.time) -> threading.Thread:
    """Run the sweep every SWEEP_SECONDS in a daemon thread until `stop` is set."""

    def loop() -> None:
        while not stop.wait(SWEEP_SECONDS):
            try:
                settle_authorized(redis, keys, clock())
            except RedisError as error:  # Redis away: the next turn tries again
                log.warning("settle sweep skipped: %s", error)
            except Exception:  # noqa: BLE001 - the sweep must outlive a bad record
                log.exception("settle sweep failed")

    thread = threading.Thread(target=loop, name="payments-settle-sweep", daemon=True)
    thread.start()
    return thread
