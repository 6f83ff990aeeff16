"""Per-fault figures: what fans saw (the journeys' timeline) and what the stores say (audit).

- failed requests and their HTTP status (0: connection refused or cut), every 5xx and
  retryable 429/503 seen, and the 5xx that count as bugs: any but a 503 with Retry-After
  (which the API answers while a store is away, and a fan may retry), from the per-second
  timeline;
- lost sales: paid orders a fan saw (or Redis recorded) that Postgres does not have as paid;
- double sales: the audit's `seats_once` and `capacity` violations;
- stuck requests: requests that got a 202 and are still pending after the settle time, and
  checkouts that never ended (paid, declined, voided or refunded);
- money without tickets: captured payments whose order has no live ticket, and
  authorizations still open at the end (neither captured nor voided);
- places lost: join numbers the waiting room forgot across a Redis restart.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from redis import Redis
from sqlalchemy import Engine, text

from loadtests.audit import AuditResult
from loadtests.audit_redis import FINAL_ORDER_STATES, order_records, request_records
from loadtests.chaos.admissions import AdmissionReading
from loadtests.chaos.recovery import SecondStats
from waitingroom.keys import RoomKeys
from workers.keys import Keys

PROBE_SECONDS = 0.25


def read_timeline(path: Path, started_at: float) -> list[dict[str, Any]]:
    """The journeys' per-second records, `t` made relative to `started_at`."""
    if not path.exists():
        return []
    return [{**second, "t": int(second["t"] - int(started_at))}
            for second in json.loads(path.read_text())["seconds"]]


def series_of(seconds: list[dict[str, Any]]) -> list[SecondStats]:
    return [SecondStats(int(second["t"]), int(second["requests"]),
                        sum(second["failures"].values()), tuple(second["response_ms"]))
            for second in seconds]


def http_figures(seconds: list[dict[str, Any]], start: float | None = None,
                 end: float | None = None) -> dict[str, Any]:
    """Requests, failures by status, retryable answers and bug 5xx of the seconds in
    [start, end) (all when not given)."""
    chosen = [s for s in seconds if (start is None or s["t"] >= start)
              and (end is None or s["t"] < end)]
    failures: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for second in chosen:
        failures.update(second["failures"])
        statuses.update(second["statuses"])
    codes = Counter(failures)
    for status, count in statuses.items():  # retried 429/503 the journeys did not fail
        codes[status] = max(codes[status], count)
    return {
        "requests": sum(int(s["requests"]) for s in chosen),
        "failed_requests": sum(failures.values()),
        "codes": dict(sorted(codes.items())),
        "http_5xx": sum(int(s.get("unretryable_5xx", 0)) for s in chosen),
        "retryable_503": statuses.get("503", 0),
    }


_CAPTURED_WITHOUT_TICKETS = text("""
    SELECT count(*) FROM orders o
    WHERE o.event_id = :event_id AND o.payment_ref IS NOT NULL AND o.status <> 'refunded'
      AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.order_id = o.order_id
                      AND t.status <> 'void')""")
_PAID_WITH_TICKETS = text("""
    SELECT o.order_id FROM orders o
    WHERE o.event_id = :event_id AND o.status = 'paid'
      AND EXISTS (SELECT 1 FROM tickets t WHERE t.order_id = o.order_id AND t.status <> 'void')""")


def store_figures(engine: Engine, redis: Redis, keys: Keys, event_id: int, audit: AuditResult,
                  journeys: dict[str, Any]) -> dict[str, Any]:
    requests = request_records(redis, keys, event_id)
    orders = order_records(redis, keys, event_id)
    with engine.connect() as conn:
        captured_no_tickets = int(conn.execute(_CAPTURED_WITHOUT_TICKETS,
                                               {"event_id": event_id}).scalar() or 0)
        paid = {row[0] for row in conn.execute(_PAID_WITH_TICKETS, {"event_id": event_id})}
    open_authorizations = sum(1 for order in orders if order.status == "authorized")
    told_paid_missing = sum(1 for order in orders
                            if order.status == "paid" and order.order_id not in paid)
    counts = journeys.get("counts", {})
    fans_saw_paid = sum(v for k, v in counts.items() if k.startswith("purchase.paid."))
    pending = sum(1 for record in requests if record.status == "pending")
    unfinished = sum(1 for order in orders if order.status not in FINAL_ORDER_STATES)
    return {
        "lost_sales": max(told_paid_missing, fans_saw_paid - len(paid), 0),
        "double_sales": audit.check("seats_once").violations
        + audit.check("capacity").violations,
        "stuck_requests": pending + unfinished,
        "money_without_tickets": captured_no_tickets + open_authorizations,
        "paid_orders": len(paid),
        "fans_saw_paid": fans_saw_paid,
        "requests_202": len(requests),
        "failed_retryable": sum(1 for record in requests if record.status == "failed"),
        "gave_up_waiting": counts.get("reserve.undecided", 0)
        + sum(v for k, v in counts.items() if k.startswith("purchase.undecided.")),
    }


def joined(redis: Redis, prefix: str, event_id: int) -> int | None:
    """The room's join counter (the newest place given out), or None if Redis is away."""
    try:
        value = redis.hget(RoomKeys(prefix, event_id).state, "joined")
    except Exception:  # noqa: BLE001 - Redis may be down right now; that is the point
        return None
    return int(value or 0)


class AdmissionProbe:
    """Reads the room's admitted counter, rate setting and line length a few times a second."""

    def __init__(self, redis: Redis, prefix: str, event_id: int):
        self._redis = redis
        self._keys = RoomKeys(prefix, event_id)
        self.readings: list[AdmissionReading] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-admissions", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(PROBE_SECONDS):
            try:
                with self._redis.pipeline(transaction=False) as pipe:
                    pipe.hget(self._keys.state, "admitted_total")
                    pipe.hget(self._keys.config, "new_users_per_minute")
                    pipe.hlen(self._keys.seen)
                    admitted, rate, waiting = pipe.execute()
            except Exception:  # noqa: BLE001, S112 - a store fault must not stop the probe
                continue
            self.readings.append(AdmissionReading(time.time(), int(admitted or 0),
                                                  float(rate or 0), int(waiting)))
