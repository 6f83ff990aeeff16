"""Where an order's payment lives at the gateway, kept with the order in Postgres.

The payments worker records the gateway's reference when it captures; a refund
(the event was cancelled) finds it here even after the order's Redis record,
which the fan polls, has expired.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text


@dataclass(frozen=True)
class OrderPayment:
    payment_ref: str | None
    total_cents: int
    status: str
    event_id: int
    event_status: str


_ORDER_PAYMENT = text(
    "SELECT o.payment_ref, o.total_cents, o.status, o.event_id, e.status AS event_status"
    " FROM orders o JOIN events e ON e.id = o.event_id WHERE o.order_id = :order_id")


def record_payment_ref(engine: Engine, order_id: str, payment_ref: str) -> None:
    """Remember the captured payment's reference (the first one recorded stays)."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE orders SET payment_ref = :ref, updated_at = now()"
                          " WHERE order_id = :order_id AND payment_ref IS NULL"),
                     {"order_id": order_id, "ref": payment_ref})


def order_payment(engine: Engine, order_id: str) -> OrderPayment | None:
    with engine.connect() as conn:
        row = conn.execute(_ORDER_PAYMENT, {"order_id": order_id}).one_or_none()
    if row is None:
        return None
    return OrderPayment(row.payment_ref, int(row.total_cents), row.status, int(row.event_id),
                        row.event_status)
