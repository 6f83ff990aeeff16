"""E-tickets for a paid order: one per seat, or one per person for general admission.

A ticket's secret is an HMAC of its order, line and index under the server's
signing key, so the gate can check a scanned QR payload (`<ticket id>.<secret>`)
without trusting the client, and issuing twice yields the same secrets.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from engine.store import notifications

_LINES = text("""
    SELECT o.event_id, o.status, l.line_no, l.seat_id, l.zone_id, l.quantity
    FROM orders o JOIN order_lines l ON l.order_id = o.order_id
    WHERE o.order_id = :order_id ORDER BY l.line_no
""")

_INSERT = text("""
    INSERT INTO tickets (order_id, event_id, seat_id, zone_id, secret)
    VALUES (:order_id, :event_id, :seat_id, :zone_id, :secret)
    ON CONFLICT (secret) DO NOTHING
""")

_TICKETS = text("""
    SELECT t.id, t.seat_id, t.zone_id, t.secret, t.status, s.label, s.row_label, sec.name
    FROM tickets t
    LEFT JOIN seats s ON s.id = t.seat_id
    LEFT JOIN sections sec ON sec.id = s.section_id
    WHERE t.order_id = :order_id ORDER BY t.id
""")


def _order_tickets(conn: Connection, order_id: str) -> list[dict[str, Any]]:
    """The order's tickets as fans see them (with the QR payload)."""
    return [
        {"ticket_id": t.id, "seat_id": t.seat_id, "zone_id": t.zone_id, "status": t.status,
         "section": t.name, "row": t.row_label, "seat": t.label,
         "qr_payload": f"{t.id}.{t.secret}"}
        for t in conn.execute(_TICKETS, {"order_id": order_id}).all()
    ]


def ticket_secret(signing_key: bytes, order_id: str, line_no: int, index: int) -> str:
    message = f"{order_id}:{line_no}:{index}".encode()
    return hmac.new(signing_key, message, hashlib.sha256).hexdigest()[:32]


def issue_tickets(engine: Engine, order_id: str, signing_key: bytes) -> list[dict[str, Any]]:
    """Issue (idempotently) and return the tickets of a paid order; none if it is not paid."""
    with engine.begin() as conn:
        lines = conn.execute(_LINES, {"order_id": order_id}).all()
        if not lines or lines[0].status != "paid":
            return []
        rows = []
        for line in lines:
            for index in range(line.quantity):
                rows.append({"order_id": order_id, "event_id": line.event_id,
                             "seat_id": line.seat_id, "zone_id": line.zone_id,
                             "secret": ticket_secret(signing_key, order_id, line.line_no, index)})
        conn.execute(_INSERT, rows)
        tickets = _order_tickets(conn, order_id)
        notifications.tickets_issued(conn, order_id, tickets)  # once per order (outbox)
    return tickets


_ORDER_ROW = text("""
    SELECT order_id, event_id, buyer_id, hold_id, status, total_cents FROM orders
    WHERE order_id = :order_id""")

RECORD_STATUS_OF_ROW = {"pending": "authorizing", "paid": "paid", "refunded": "refunded",
                        "void": "voided"}
"""The checkout record's status (what `GET /orders/{id}` says) for each status of the
order's row: the row exists once the partition sold the hold."""


def stored_order(engine: Engine, order_id: str) -> dict[str, Any] | None:
    """The order as Postgres has it, in the checkout record's shape, for an order whose record
    in Redis is gone (Redis lost it, or it expired): its row and the tickets issued so far.
    None when the partition never sold it (a checkout that did not get that far is only in
    Redis)."""
    with engine.connect() as conn:
        row = conn.execute(_ORDER_ROW, {"order_id": order_id}).first()
        if row is None:
            return None
        tickets = _order_tickets(conn, order_id)
    return {"order_id": row.order_id, "event_id": int(row.event_id),
            "buyer_id": int(row.buyer_id), "hold_id": row.hold_id,
            "status": RECORD_STATUS_OF_ROW.get(row.status, row.status),
            "amount_cents": int(row.total_cents), "tickets": tickets}


@dataclass(frozen=True)
class Scan:
    """What the gate is told about one scanned ticket."""

    outcome: str
    """`admitted` (first scan of a valid ticket), `used` (scanned before), `void` (its order
    was refunded or voided), or `unknown` (no such ticket at this event: forged, mistyped,
    or another event's)."""
    ticket: dict[str, Any] | None = None
    used_at: datetime | None = None


_SCANNED = text("""
    SELECT t.id, t.order_id, t.secret, t.status, t.used_at, t.seat_id, t.zone_id,
           s.label, s.row_label, sec.name AS section, z.name AS zone
    FROM tickets t
    LEFT JOIN seats s ON s.id = t.seat_id
    LEFT JOIN sections sec ON sec.id = s.section_id
    LEFT JOIN ga_zones z ON z.id = t.zone_id
    WHERE t.id = :id AND t.event_id = :event_id
    FOR UPDATE OF t""")
_ADMIT = text("""
    UPDATE tickets SET status = 'used', used_at = now()
    WHERE id = :id AND status = 'valid'
    RETURNING used_at""")


def scan_ticket(engine: Engine, event_id: int, ticket_id: int, secret: str) -> Scan:
    """Admit a ticket at the gate, once: the first scan of a valid ticket marks it used.

    The ticket row is locked while it is checked, so two gates scanning the same code admit
    one fan. The secret is compared here in constant time, not in SQL, where a comparison
    that stops at the first differing character would tell a forger how much was right."""
    with engine.begin() as conn:
        row = conn.execute(_SCANNED, {"id": ticket_id, "event_id": event_id}).first()
        if row is None or not hmac.compare_digest(row.secret.encode(), secret.encode()):
            return Scan("unknown")
        used_at = row.used_at
        if row.status == "valid":
            used_at = conn.execute(_ADMIT, {"id": ticket_id}).scalar_one()
    ticket = {"ticket_id": row.id, "order_id": row.order_id,
              **({"section": row.section, "row": row.row_label, "seat": row.label}
                 if row.seat_id is not None else {"zone": row.zone})}
    if row.status == "valid":  # as read under the lock, before this scan marked it used
        return Scan("admitted", ticket, used_at)
    return Scan("used" if row.status == "used" else "void", ticket, used_at)


_OWNED = text("""
    SELECT t.id, t.secret, t.status, t.used_at, t.order_id, t.event_id, t.seat_id,
           sec.name AS section, s.row_label AS row, s.label AS seat, z.name AS zone,
           e.name AS event_name, e.starts_at, v.name AS venue_name, v.city,
           u.display_name AS holder
    FROM tickets t
    JOIN orders o ON o.order_id = t.order_id
    JOIN users u ON u.id = o.buyer_id
    JOIN events e ON e.id = t.event_id JOIN venues v ON v.id = e.venue_id
    LEFT JOIN seats s ON s.id = t.seat_id
    LEFT JOIN sections sec ON sec.id = s.section_id
    LEFT JOIN ga_zones z ON z.id = t.zone_id
    WHERE t.id = :id AND o.buyer_id = :buyer_id""")


def owned_ticket(engine: Engine, ticket_id: int, buyer_id: int) -> dict[str, Any] | None:
    """The ticket with its event and place, if `buyer_id` bought it; else None (another
    fan's ticket does not exist for the caller)."""
    with engine.connect() as conn:
        row = conn.execute(_OWNED, {"id": ticket_id, "buyer_id": buyer_id}).first()
    if row is None:
        return None
    return {"ticket_id": row.id, "order_id": row.order_id, "status": row.status,
            "used_at": row.used_at, "event_id": row.event_id, "event_name": row.event_name,
            "starts_at": row.starts_at, "venue": row.venue_name, "city": row.city,
            "holder": row.holder,
            "place": notifications.ticket_place(row.section, row.row,
                                                row.seat if row.seat_id is not None else None,
                                                row.zone),
            "qr_payload": f"{row.id}.{row.secret}"}
