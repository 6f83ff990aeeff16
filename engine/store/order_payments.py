"""Where an order's payment lives at the gateway, kept with the order in Postgres.

The payments worker records the gateway's reference when it captures; a refund
finds it here even after the order's Redis record, which the fan polls, has
expired. Capture and refund of one order run under one per-order lock
(`locked_payment`), so whichever comes second sees what the first did: a refund
after the capture gives the money back, a refund before it voids the
authorization and the capture then takes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text


@dataclass(frozen=True)
class OrderPayment:
    payment_ref: str | None
    """The captured payment's gateway reference; None until the capture is recorded."""
    total_cents: int
    status: str
    event_id: int
    event_status: str


_ORDER_PAYMENT = text(
    "SELECT o.payment_ref, o.total_cents, o.status, o.event_id, e.status AS event_status"
    " FROM orders o JOIN events e ON e.id = o.event_id WHERE o.order_id = :order_id")
# Not a row lock: the partition consumer writes the order's row (a refund) and must never
# wait for a payment job's gateway call.
_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended('order-payment:' || :order_id, 0))")
_RECORD_CAPTURE = text("UPDATE orders SET payment_ref = :ref, updated_at = now()"
                       " WHERE order_id = :order_id AND payment_ref IS NULL")


def _read(conn: Connection, order_id: str) -> OrderPayment | None:
    row = conn.execute(_ORDER_PAYMENT, {"order_id": order_id}).one_or_none()
    if row is None:
        return None
    return OrderPayment(row.payment_ref, int(row.total_cents), row.status, int(row.event_id),
                        row.event_status)


def order_payment(engine: Engine, order_id: str) -> OrderPayment | None:
    with engine.connect() as conn:
        return _read(conn, order_id)


@dataclass
class LockedPayment:
    """An order's payment while its lock is held (see `locked_payment`)."""

    conn: Connection | None
    order_id: str
    payment: OrderPayment | None

    def record_capture(self, payment_ref: str) -> None:
        """The gateway captured: remember its reference (committed with the lock's end)."""
        if self.conn is not None:
            self.conn.execute(_RECORD_CAPTURE, {"order_id": self.order_id, "ref": payment_ref})


@contextmanager
def locked_payment(engine: Engine, order_id: str) -> Iterator[LockedPayment]:
    """The order's payment, read under a per-order lock held until the block ends."""
    with engine.begin() as conn:
        conn.execute(_LOCK, {"order_id": order_id})
        yield LockedPayment(conn, order_id, _read(conn, order_id))


@contextmanager
def unlocked(order_id: str) -> Iterator[LockedPayment]:
    """For a payments context without Postgres (tests of other parts): nothing stored."""
    yield LockedPayment(None, order_id, None)
