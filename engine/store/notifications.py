"""The notifications outbox: what a fan is told by mail, and when it was sent.

A message is written in the same transaction as the change it tells of (the
tickets of a paid order, a refund), so none is lost and none is sent for a
change that did not happen; `onsale notifier` sends what is due
(`dispatch_due`), at least once: a crash between handing a message to the mail
system and marking it sent sends it again. Each order gets one message of each
kind (a re-run writes nothing new).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

RETRY_BASE_SECONDS = 30.0
RETRY_MAX_SECONDS = 3600.0


@dataclass(frozen=True)
class TicketCode:
    """One e-ticket as its mail shows it: the place and the QR payload the gate scans."""

    ticket_id: int
    place: str
    qr_payload: str


@dataclass(frozen=True)
class Message:
    id: int
    kind: str
    order_id: str
    recipient: str
    subject: str
    body: str
    attempts: int
    tickets: tuple[TicketCode, ...] = ()
    """The order's valid e-tickets, read at sending time (order_paid messages only), so the
    mailer can attach each QR code as an image."""


_ORDER = text("""
    SELECT o.order_id, o.buyer_id, o.total_cents, u.email, u.display_name,
           e.name AS event_name, e.starts_at, e.currency, e.status AS event_status
    FROM orders o
    JOIN users u ON u.id = o.buyer_id
    JOIN events e ON e.id = o.event_id
    WHERE o.order_id = :order_id""")
_INSERT = text("""
    INSERT INTO notifications (kind, order_id, user_id, recipient, subject, body)
    VALUES (:kind, :order_id, :user_id, :recipient, :subject, :body)
    ON CONFLICT (kind, order_id) DO NOTHING""")
_DUE = text("""
    SELECT id, kind, order_id, recipient, subject, body, attempts FROM notifications
    WHERE sent_at IS NULL AND next_attempt_at <= now()
    ORDER BY next_attempt_at, id LIMIT :limit
    FOR UPDATE SKIP LOCKED""")
_TICKET_CODES = text("""
    SELECT t.id, t.secret, sec.name AS section, s.row_label, s.label, z.name AS zone
    FROM tickets t
    LEFT JOIN seats s ON s.id = t.seat_id
    LEFT JOIN sections sec ON sec.id = s.section_id
    LEFT JOIN ga_zones z ON z.id = t.zone_id
    WHERE t.order_id = :order_id AND t.status <> 'void'
    ORDER BY t.id""")
_SENT = text("UPDATE notifications SET sent_at = now(), attempts = attempts + 1,"
             " last_error = NULL WHERE id = :id")
_FAILED = text("""
    UPDATE notifications SET attempts = attempts + 1, last_error = :error,
        next_attempt_at = now() + make_interval(secs => :delay)
    WHERE id = :id""")


def ticket_place(section: str | None, row: str | None, seat: str | None,
                 zone: str | None = None) -> str:
    """Where a ticket's holder sits (or stands), as fans read it."""
    if seat is None:
        return f"{zone}, standing" if zone else "standing"
    return f"{section}, row {row}, seat {seat}"


def ticket_codes(conn: Connection, order_id: str) -> tuple[TicketCode, ...]:
    return tuple(TicketCode(int(row.id), ticket_place(row.section, row.row_label, row.label,
                                                      row.zone), f"{row.id}.{row.secret}")
                 for row in conn.execute(_TICKET_CODES, {"order_id": order_id}))


def _money(cents: int, currency: str) -> str:
    return f"{cents // 100}.{cents % 100:02d} {currency}"


def _order(conn: Connection, order_id: str) -> Any:
    return conn.execute(_ORDER, {"order_id": order_id}).one_or_none()


def tickets_issued(conn: Connection, order_id: str, tickets: Sequence[dict[str, Any]]) -> None:
    """Write the paid order's message with its e-tickets (in the transaction that issued
    them). A buyer who is not an account (load tests' synthetic buyers) gets none."""
    order = _order(conn, order_id)
    if order is None or not tickets:
        return
    lines = []
    for ticket in tickets:
        place = ticket_place(ticket.get("section"), ticket.get("row"),
                             ticket.get("seat") if ticket.get("seat_id") is not None else None)
        lines.append(f"  {place}: {ticket['qr_payload']}")
    body = (f"Hello {order.display_name},\n\n"
            f"your order {order_id} for {order.event_name} "
            f"({order.starts_at:%Y-%m-%d %H:%M} UTC) is paid: "
            f"{_money(order.total_cents, order.currency)}.\n\n"
            f"Your {len(tickets)} e-ticket(s); show the code at the gate (the QR images "
            "are attached; they are also under My tickets):\n"
            + "\n".join(lines) + "\n")
    conn.execute(_INSERT, {"kind": "order_paid", "order_id": order_id,
                           "user_id": order.buyer_id, "recipient": order.email,
                           "subject": f"Your tickets for {order.event_name}", "body": body})


def order_refunded(engine: Engine, order_id: str, amount_cents: int,
                   captured: bool = True) -> None:
    """Write the message of a refund (the event was cancelled, or ops refunded the order),
    once the gateway gave the money back, or released an authorization it never took."""
    with engine.begin() as conn:
        order = _order(conn, order_id)
        if order is None:
            return
        cancelled = order.event_status == "cancelled"
        why = f"{order.event_name} was cancelled. " if cancelled else ""
        money = (f"was refunded: {_money(amount_cents, order.currency)} back to the card you "
                 "paid with" if captured else
                 "was cancelled before the payment was taken: nothing was charged to your card")
        body = (f"Hello {order.display_name},\n\n"
                f"{why}Your order {order_id} for {order.event_name} {money}. "
                "Its tickets are no longer valid.\n")
        subject = (f"{order.event_name} was cancelled: refund" if cancelled
                   else f"Refund of your order for {order.event_name}")
        conn.execute(_INSERT, {"kind": "order_refunded", "order_id": order_id,
                               "user_id": order.buyer_id, "recipient": order.email,
                               "subject": subject, "body": body})


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: doubling, capped."""
    return float(min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)))


def dispatch_due(engine: Engine, send: Callable[[Message], None], limit: int = 50,
                 ) -> tuple[int, int]:
    """Send up to `limit` due messages, oldest first; (sent, failed). Rows are locked while
    they are sent, so several dispatchers never send the same one at once."""
    sent = failed = 0
    with engine.begin() as conn:
        for row in conn.execute(_DUE, {"limit": limit}).all():
            codes = ticket_codes(conn, row.order_id) if row.kind == "order_paid" else ()
            message = Message(int(row.id), row.kind, row.order_id, row.recipient, row.subject,
                              row.body, int(row.attempts), codes)
            try:
                send(message)
            except Exception as error:  # noqa: BLE001 - any failure is retried later
                failed += 1
                conn.execute(_FAILED, {"id": message.id, "error": repr(error)[:500],
                                       "delay": retry_delay(message.attempts + 1)})
                continue
            sent += 1
            conn.execute(_SENT, {"id": message.id})
    return sent, failed
