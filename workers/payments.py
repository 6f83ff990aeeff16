"""Checkout outside the partition consumer: authorize, then sell, then capture or void.

1. The API records the order (status `authorizing`) and enqueues `authorize_order`
   on the payments queue, an ordinary RQ queue served by an RQ SimpleWorker
   (workers/rqworker.py: without RQ's command channel).
2. `authorize_order` calls the gateway (idempotency key = hold id + attempt).
   Declined: the order says why and the hold stays until it expires, so the fan
   can retry. Authorized: a `sell` request goes to the event's partition queue.
3. The partition decides the sale in queue order. Its publisher enqueues
   `capture_order` when the seats were sold (also after a re-hold of an expired
   hold), or `void_order` when the hold expired and its seats were taken.
4. When an event is cancelled, its partition refunds its sales in one batch (orders
   `refunded`, tickets void, in Postgres), and so it does for an order ops refund
   (`POST /orders/{id}/refund`); its publisher enqueues `refund_order` for each: the
   gateway gives the money back (idempotency key = order id) and the fan is told by mail.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from redis import Redis
from sqlalchemy import Engine

from engine.store import notifications
from engine.store.etickets import issue_tickets
from engine.store.order_payments import LockedPayment, locked_payment, unlocked
from workers.decider import Outcome
from workers.enqueue import QueueFull, SyncRequestQueue
from workers.gateway import GatewayTimeout, PaymentGateway, PaymentStatus
from workers.keys import RQ_JOB_PREFIX, RQ_QUEUE_PREFIX, RQ_QUEUES_SET, Keys, text
from workers.metrics import record_payment_decline
from workers.rqjob import rq_job_hash
from workers.transient import retry_transient

log = logging.getLogger("onsale.payments")

ORDER_TTL_SECONDS = 7 * 24 * 3600
PAYMENT_JOB_TIMEOUT_SECONDS = 60
PAYMENT_JOB_RETRIES = 3
"""RQ runs a job again this many times after it failed or its worker died running it
(abandoned: found by the worker's registry maintenance once the job's heartbeat expired)."""
TRANSIENT_RETRY_SECONDS = 40.0
"""How long a job waits out a Postgres or Redis restart before failing (within its timeout)."""


@dataclass(frozen=True)
class Followup:
    """A payments job built ahead, to be pushed inside someone else's Redis transaction."""

    queue_name: str
    job_id: str
    mapping: dict[str, Any]

    def push(self, pipe: Any) -> None:
        """Enqueue on `pipe` (sync or async pipeline) exactly as RQ's `enqueue` would."""
        self.write(pipe)
        self.queue(pipe)

    def write(self, pipe: Any) -> None:
        """The job's hash alone: on Redis Cluster, `write` what the job reads in one round
        trip and `queue` it in the next, since a cluster pipeline sends to its nodes
        concurrently and the payments worker may take the id before the rest has landed."""
        pipe.hset(RQ_JOB_PREFIX + self.job_id, mapping=self.mapping)

    def queue(self, pipe: Any) -> None:
        queue_key = RQ_QUEUE_PREFIX + self.queue_name
        pipe.rpush(queue_key, self.job_id)
        pipe.sadd(RQ_QUEUES_SET, queue_key)


@dataclass
class PaymentsContext:
    redis: Redis
    keys: Keys
    gateway: PaymentGateway
    requests: SyncRequestQueue
    partition_of: Callable[[int], str]
    issue_tickets: Callable[[str], list[dict[str, Any]]]
    end_admission: Callable[[int, int], None] = lambda event_id, buyer_id: None
    """Close the buyer's admitted waiting-room session once the order is paid."""
    lock_payment: Callable[[str], AbstractContextManager[LockedPayment]] = unlocked
    """The order's payment in Postgres under a per-order lock: capture and refund of one
    order never run at once (`engine.store.order_payments.locked_payment`)."""
    notify_refunded: Callable[[str, int, bool], None] = lambda order_id, cents, captured: None
    """Write the fan's refund message to the notifications outbox."""


def postgres_parts(engine: Engine, signing_key: bytes) -> dict[str, Any]:
    """The context's Postgres-backed hooks (e-tickets, the per-order payment lock, refund
    mail), for `PaymentsContext(**...)`: the payments worker and the tests wire the same."""
    return {
        "issue_tickets": lambda order_id: issue_tickets(engine, order_id, signing_key),
        "lock_payment": lambda order_id: locked_payment(engine, order_id),
        "notify_refunded": lambda order_id, cents, captured: notifications.order_refunded(
            engine, order_id, cents, captured),
    }


_context: PaymentsContext | None = None


def configure(context: PaymentsContext) -> None:
    """Called once by the payments worker process (and by tests) before jobs run."""
    global _context
    _context = context


def _ctx() -> PaymentsContext:
    if _context is None:
        raise RuntimeError("payments not configured: run jobs with `onsale payments-worker`")
    return _context


def order_id_for(hold_id: str) -> str:
    return f"{hold_id}-o"


def _job(queue_name: str, job_id: str, func: str, *args: Any) -> Followup:
    return Followup(queue_name, job_id,
                    rq_job_hash(job_id, queue_name, func, args, PAYMENT_JOB_TIMEOUT_SECONDS,
                                retries=PAYMENT_JOB_RETRIES))


def authorize_job(keys: Keys, order_id: str, attempt: int) -> Followup:
    return _job(keys.payments_queue_name(), f"authorize-{order_id}-{attempt}",
                "workers.payments.authorize_order", order_id, attempt)


def refund_job(keys: Keys, order_id: str) -> Followup:
    return _job(keys.payments_queue_name(), f"refund-{order_id}",
                "workers.payments.refund_order", order_id)


def followups(outcomes: Sequence[Outcome], keys: Keys,
              refunded_orders: Sequence[str] = ()) -> list[Followup]:
    """Capture or void for every decided sale, and a refund for every refunded order, as RQ
    jobs on the payments queue."""
    jobs: list[Followup] = [refund_job(keys, order_id) for order_id in refunded_orders]
    for outcome in outcomes:
        if outcome.kind != "sell":
            continue
        order_id = outcome.result.get("order_id")
        if not order_id:
            continue  # only sells the payments worker made carry an order (always, today)
        jobs.append(settle_job(keys, order_id, outcome.status, outcome.result))
    return jobs


def settle_job(keys: Keys, order_id: str, sell_status: str, result: dict[str, Any]) -> Followup:
    """What ends an authorized order once its sale is decided: capture when sold, else void
    (the code says why). One job id per order and kind: pushing it again is idempotent."""
    if sell_status == "sold":
        return _job(keys.payments_queue_name(), f"capture-{order_id}",
                    "workers.payments.capture_order", order_id)
    code = (result.get("error") or {}).get("code", "hold_expired")
    return _job(keys.payments_queue_name(), f"void-{order_id}",
                "workers.payments.void_order", order_id, code)


def _set_order(ctx: PaymentsContext, order_id: str, **fields: Any) -> dict[str, str]:
    key = ctx.keys.order(order_id)
    encoded: dict[Any, str] = {k: json.dumps(v) if isinstance(v, dict | list) else str(v)
                               for k, v in fields.items()}
    with ctx.redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, mapping=encoded)
        pipe.expire(key, ORDER_TTL_SECONDS)
        pipe.hgetall(key)
        *_, raw = pipe.execute()
    order = {k.decode(): v.decode() for k, v in raw.items()}
    ctx.redis.publish(ctx.keys.order_channel(order_id), json.dumps(public_order(order)))
    return order


def public_order(order: dict[str, str]) -> dict[str, Any]:
    """What the fan may see of an order record (never the card)."""
    shown: dict[str, Any] = {
        "order_id": order.get("order_id"),
        "status": order.get("status"),
        "hold_id": order.get("hold_id"),
        "event_id": int(order["event_id"]) if order.get("event_id") else None,
        "amount_cents": int(order["amount_cents"]) if order.get("amount_cents") else None,
        "attempt": int(order.get("attempt") or 0),
    }
    if order.get("error"):
        shown["error"] = json.loads(order["error"])
    if order.get("tickets"):
        shown["tickets"] = json.loads(order["tickets"])
    if order.get("reheld"):
        shown["reheld"] = order["reheld"] == "True"
    if order.get("card_last4"):
        shown["card_last4"] = order["card_last4"]
    return shown


def _load_order(ctx: PaymentsContext, order_id: str) -> dict[str, str]:
    raw = ctx.redis.hgetall(ctx.keys.order(order_id))
    return {text(k): text(v) for k, v in raw.items()}


@retry_transient(TRANSIENT_RETRY_SECONDS)
def authorize_order(order_id: str, attempt: int) -> str:
    ctx = _ctx()
    order = _load_order(ctx, order_id)
    if order.get("status") != "authorizing" or int(order.get("attempt") or 0) != attempt:
        return f"skipped: order is {order.get('status')}"
    hold_id = order["hold_id"]
    try:
        # A record written before cards were tokenized at the API carries the card: tokenize
        # it here (and the writes below blank it).
        token = order.get("payment_token") or ctx.gateway.tokenize(order.get("card", ""))
        result = ctx.gateway.authorize(int(order["amount_cents"]), token,
                                       idempotency_key=f"{hold_id}:{attempt}")
    except GatewayTimeout as error:
        _set_order(ctx, order_id, status="declined", card="",
                   error={"code": "gateway_timeout", "message": str(error), "details": {}})
        record_payment_decline(ctx.redis, ctx.keys, int(order["event_id"]), "gateway_timeout")
        return "gateway timeout"
    if result.status is not PaymentStatus.AUTHORIZED:
        _set_order(ctx, order_id, status="declined", card="",
                   error={"code": result.code or "card_declined",
                          "message": result.message or "The card was declined.", "details": {}})
        record_payment_decline(ctx.redis, ctx.keys, int(order["event_id"]),
                               result.code or "card_declined")
        return f"declined: {result.code}"
    event_id = int(order["event_id"])
    params: dict[str, Any] = {"hold_id": hold_id, "order_id": order_id}
    for field in ("seat_ids", "zone_id", "quantity"):
        if order.get(field):
            params[field] = json.loads(order[field])
    try:
        enqueued = ctx.requests.enqueue(
            event_id=event_id, buyer_id=int(order["buyer_id"]), kind="sell", params=params,
            partition=ctx.partition_of(event_id), idempotency_key=f"sell:{order_id}:{attempt}",
            request_id=f"{order_id}-s{attempt}")
    except QueueFull:
        # Keep the authorization; RQ retries this job. The sale is still decided in order.
        time.sleep(0.5)
        raise
    # Indexed before it says authorized, so the settle sweep never misses one.
    ctx.redis.zadd(ctx.keys.authorized_orders(), {order_id: time.time()})
    _set_order(ctx, order_id, status="authorized", card="", payment_ref=result.reference,
               sell_request_id=enqueued.request_id)
    return "authorized"


@retry_transient(TRANSIENT_RETRY_SECONDS)
def capture_order(order_id: str) -> str:
    ctx = _ctx()
    with ctx.lock_payment(order_id) as locked:
        order = _load_order(ctx, order_id)
        if order.get("status") == "paid":
            return "already paid"
        if locked.payment is not None and locked.payment.status == "refunded":
            # Refunded (its event cancelled) before this capture: take nothing; the refund
            # job voids the authorization.
            return "skipped: refunded before the capture"
        ctx.gateway.capture(order.get("payment_ref", ""), idempotency_key=f"capture:{order_id}")
        if order.get("payment_ref"):
            locked.record_capture(order["payment_ref"])
        tickets = ctx.issue_tickets(order_id)
        _set_order(ctx, order_id, status="paid", tickets=tickets, paid_at=time.time())
        ctx.redis.zrem(ctx.keys.authorized_orders(), order_id)
    # The fan is done: free their place under max_active_users. (Not at purchase start: a
    # declined card must be retryable under the same admission.)
    ctx.end_admission(int(order["event_id"]), int(order["buyer_id"]))
    return f"paid, {len(tickets)} tickets"


@retry_transient(TRANSIENT_RETRY_SECONDS)
def void_order(order_id: str, code: str) -> str:
    ctx = _ctx()
    order = _load_order(ctx, order_id)
    if order.get("status") == "voided":
        return "already voided"
    ctx.gateway.void(order.get("payment_ref", ""), idempotency_key=f"void:{order_id}")
    _set_order(ctx, order_id, status="voided", error={
        "code": code, "message": "The hold expired before payment completed and its seats "
        "were taken; the payment was voided.", "details": {}})
    ctx.redis.zrem(ctx.keys.authorized_orders(), order_id)
    return "voided"


@retry_transient(TRANSIENT_RETRY_SECONDS)
def refund_order(order_id: str) -> str:
    """Give a refunded order's money back (its event was cancelled, or ops refunded it).
    The partition has already marked it refunded and voided its tickets in Postgres; this is
    the gateway's part, then the fan's order record and message. A failure leaves the job
    in RQ's failed registry, to be requeued (the gateway call is idempotent)."""
    ctx = _ctx()
    with ctx.lock_payment(order_id) as locked:
        order = _load_order(ctx, order_id)
        if order.get("status") == "refunded":
            return "already refunded"
        stored = locked.payment
        reference = order.get("payment_ref") or (stored.payment_ref if stored else None)
        amount = stored.total_cents if stored else int(order.get("amount_cents") or 0)
        if not reference:
            raise RuntimeError(f"order {order_id}: no payment reference to refund")
        captured = ((stored is not None and stored.payment_ref is not None)
                    or order.get("status") == "paid")
        if captured:
            ctx.gateway.refund(reference, amount, idempotency_key=f"refund:{order_id}")
        else:  # not captured yet, and now never will be: release the authorization
            ctx.gateway.void(reference, idempotency_key=f"void:{order_id}")
        ctx.notify_refunded(order_id, amount, captured)  # once per order, however often
        if order:  # the fan's record may have expired; Postgres says refunded either way
            cancelled = stored is not None and stored.event_status == "cancelled"
            money = ("the payment was refunded" if captured
                     else "nothing was charged (the payment was not taken)")
            reason = "The event was cancelled" if cancelled else "The order was refunded"
            why: dict[str, Any] = {
                "code": "event_cancelled" if cancelled else "order_refunded",
                "message": f"{reason}; {money}.", "details": {}}
            _set_order(ctx, order_id, status="refunded", refunded_at=time.time(), tickets=[],
                       error=why)
    return f"refunded {amount} cents" if captured else "authorization voided"
