"""What the booking pipeline reports: Prometheus metrics plus the dashboard's Redis counters.

`BatchMetrics.on_batch` is the partition consumer's `on_batch(partition,
decision, now, writes)` hook: per batch it counts decisions by outcome, the
batch size, each request's request-to-decision latency (`Outcome.decided_at -
Outcome.enqueued_at`) and hold expiries, in Prometheus (scraped through the
API's /metrics in multiprocess mode) and in the per-second Redis hashes the
ops dashboard and the autopilot read (`workers.ops_counters`). The consumer
passes the batch's publish-script recorder as `writes`, so the Redis counters
cost no round trip of their own; without it, one pipeline per batch. A failure
here is logged and never reaches the consumer.

`record_payment_decline` is called by the payments worker when a card is
declined (or the gateway times out).

Labels: `event_id` and `partition` are bounded by the events on sale and the
partition count; outcome and reason are small fixed sets. Never a user id.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import Counter as Tally
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Histogram, values
from redis import Redis

from engine.events import HoldExpired
from workers.decider import BatchDecision
from workers.keys import Keys
from workers.ops_counters import LATENCY_BUCKETS_SECONDS, OpsKeys, add_counts, latency_bucket

log = logging.getLogger("onsale.metrics")

LOG_EVERY_SECONDS = 60.0


def _use_host_and_pid_as_process_identity() -> None:
    """In multiprocess mode, name each process's files `<host>-<pid>`, not just `<pid>`.

    Containers sharing one metrics volume all run as pid 1; the host name (the
    container id) keeps their files apart. Must run before any metric exists.
    """
    if getattr(values.ValueClass, "_multiprocess", False):
        host = socket.gethostname().replace("_", "-")
        values.ValueClass = values.MultiProcessValue(  # type: ignore[no-untyped-call]
            lambda: f"{host}-{os.getpid()}")


_use_host_and_pid_as_process_identity()

DECISIONS = Counter(
    "onsale_booking_decisions_total",
    "Booking requests decided by a partition consumer, by outcome status.",
    ["event_id", "outcome"],
)
DECISION_LATENCY = Histogram(
    "onsale_booking_decision_latency_seconds",
    "Time from a booking request's enqueue (API) to its decision (partition consumer).",
    ["event_id"],
    buckets=LATENCY_BUCKETS_SECONDS,
)
BATCH_SIZE = Histogram(
    "onsale_booking_batch_requests",
    "Requests decided together in one partition batch (one Postgres transaction).",
    ["partition"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
HOLD_EXPIRIES = Counter(
    "onsale_hold_expiries_total",
    "Holds that ran out before purchase; their seats returned to sale.",
    ["event_id"],
)
PAYMENT_DECLINES = Counter(
    "onsale_payment_declines_total",
    "Payment authorizations refused by the gateway (or timed out), by reason code.",
    ["event_id", "reason"],
)


class BatchMetrics:
    """The consumer's `on_batch` hook; one per worker process, shared by its partition threads."""

    def __init__(self, redis: Redis, keys: Keys, clock: Callable[[], float] = time.time):
        self._redis = redis
        self._ops_keys = OpsKeys(keys.prefix)
        self._clock = clock
        self._last_warning = 0.0

    def on_batch(self, partition: str, decision: BatchDecision, now: float,
                 writes: Any = None) -> None:
        try:
            self._record(partition, decision, now, writes)
        except Exception:  # noqa: BLE001 - metrics must never stop a partition
            if time.monotonic() - self._last_warning > LOG_EVERY_SECONDS:
                self._last_warning = time.monotonic()
                log.warning("recording batch metrics failed", exc_info=True)

    def _record(self, partition: str, decision: BatchDecision, now: float,
                writes: Any) -> None:
        per_event: dict[int, Tally[str]] = {}
        latencies: dict[int, list[float]] = {}
        for outcome in decision.outcomes:
            tally = per_event.get(outcome.event_id)
            if tally is None:
                tally = per_event[outcome.event_id] = Tally()
                latencies[outcome.event_id] = []
            tally[f"o:{outcome.status}"] += 1
            if outcome.enqueued_at > 0:
                latency = max(0.0, outcome.decided_at - outcome.enqueued_at)
                latencies[outcome.event_id].append(latency)
                tally[f"lat:{latency_bucket(latency)}"] += 1
        for event_id, tally in per_event.items():
            label = str(event_id)
            for name, count in list(tally.items()):
                if name.startswith("o:"):
                    DECISIONS.labels(label, name[2:]).inc(count)
                    tally["decisions"] += count
            histogram = DECISION_LATENCY.labels(label)
            for latency in latencies[event_id]:
                histogram.observe(latency)
        if decision.outcomes:
            BATCH_SIZE.labels(partition).observe(len(decision.outcomes))
        for event_id, events in decision.events_by_event.items():
            expired = sum(1 for event in events if isinstance(event, HoldExpired))
            if expired:
                HOLD_EXPIRIES.labels(str(event_id)).inc(expired)
                per_event.setdefault(event_id, Tally())["expiries"] += expired
        if not per_event:
            return
        second = int(now)
        if writes is not None:
            for event_id, tally in per_event.items():
                add_counts(writes, self._ops_keys, event_id, second, tally)
            return
        with self._redis.pipeline(transaction=False) as pipe:
            for event_id, tally in per_event.items():
                add_counts(pipe, self._ops_keys, event_id, second, tally)
            pipe.execute()


def record_payment_decline(
    redis: Redis, keys: Keys, event_id: int, reason: str, now: float | None = None
) -> None:
    """Count a declined authorization (Prometheus and the dashboard); never raises."""
    PAYMENT_DECLINES.labels(str(event_id), reason).inc()
    second = int(time.time() if now is None else now)
    try:
        with redis.pipeline(transaction=False) as pipe:
            add_counts(pipe, OpsKeys(keys.prefix), event_id, second, {"declines": 1})
            pipe.execute()
    except Exception:  # noqa: BLE001 - a metric must not fail a payment job
        log.warning("recording a payment decline failed", exc_info=True)
