"""What an organizer reads about one event's sale: sales per price tier, attendees, refunds.

Read-only SQL over the tables the partition writes (seat claims, GA counters, orders,
order lines, tickets), so a report is as current as the last committed batch. The
attendee list is read in pages by ticket id (keyset), so an export of a large event is
streamed page by page instead of held in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

ATTENDEE_PAGE_SIZE = 1000

_TIERS = text("""
    WITH seat_counts AS (
        SELECT s.category, count(*) AS capacity,
               count(*) FILTER (WHERE c.state = 'sold') AS sold,
               count(*) FILTER (WHERE c.state = 'held') AS held,
               count(*) FILTER (WHERE c.state = 'blocked') AS blocked
        FROM events e
        JOIN seats s ON s.venue_id = e.venue_id
        LEFT JOIN seat_claims c ON c.event_id = e.id AND c.seat_id = s.id
        WHERE e.id = :event_id
        GROUP BY s.category
    ), zone_counts AS (
        SELECT z.category, sum(g.capacity) AS capacity, sum(g.sold) AS sold,
               sum(g.held) AS held, 0 AS blocked
        FROM ga_inventory g JOIN ga_zones z ON z.id = g.zone_id
        WHERE g.event_id = :event_id
        GROUP BY z.category
    ), counts AS (
        SELECT category, sum(capacity) AS capacity, sum(sold) AS sold, sum(held) AS held,
               sum(blocked) AS blocked
        FROM (SELECT * FROM seat_counts UNION ALL SELECT * FROM zone_counts) AS both_kinds
        GROUP BY category
    ), revenue AS (
        SELECT coalesce(s.category, z.category) AS category,
               sum(l.price_cents) AS revenue_cents
        FROM orders o
        JOIN order_lines l ON l.order_id = o.order_id
        LEFT JOIN seats s ON s.id = l.seat_id
        LEFT JOIN ga_zones z ON z.id = l.zone_id
        WHERE o.event_id = :event_id AND o.status = 'paid'
        GROUP BY 1
    )
    SELECT t.code, t.name, t.category, t.price_cents,
           coalesce(c.capacity, 0) AS capacity, coalesce(c.sold, 0) AS sold,
           coalesce(c.held, 0) AS held, coalesce(c.blocked, 0) AS blocked,
           coalesce(r.revenue_cents, 0) AS revenue_cents
    FROM price_tiers t
    LEFT JOIN counts c ON c.category = t.category
    LEFT JOIN revenue r ON r.category = t.category
    WHERE t.event_id = :event_id
    ORDER BY t.price_cents DESC, t.code""")

_ORDER_TOTALS = text("""
    SELECT count(*) FILTER (WHERE status = 'paid') AS paid_orders,
           count(*) FILTER (WHERE status = 'refunded') AS refunded_orders,
           coalesce(sum(total_cents) FILTER (WHERE status = 'refunded'), 0) AS refunded_cents
    FROM orders WHERE event_id = :event_id""")

_CHECKED_IN = text("SELECT count(*) FROM tickets WHERE event_id = :event_id AND status = 'used'")

_EVENT = text("SELECT id, name, status, currency FROM events WHERE id = :event_id")

_ATTENDEES = text("""
    SELECT t.id AS ticket_id, t.order_id, t.status AS ticket_status, t.used_at,
           o.status AS order_status, o.paid_at, u.email, u.display_name,
           sec.name AS section, s.row_label AS row, s.label AS seat, z.name AS zone
    FROM tickets t
    JOIN orders o ON o.order_id = t.order_id
    LEFT JOIN users u ON u.id = o.buyer_id
    LEFT JOIN seats s ON s.id = t.seat_id
    LEFT JOIN sections sec ON sec.id = s.section_id
    LEFT JOIN ga_zones z ON z.id = t.zone_id
    WHERE t.event_id = :event_id AND t.id > :after_id
    ORDER BY t.id
    LIMIT :limit""")

_REFUNDS = text("""
    SELECT o.order_id, o.total_cents, o.quantity, o.paid_at, o.refunded_at, u.email,
           u.display_name
    FROM orders o LEFT JOIN users u ON u.id = o.buyer_id
    WHERE o.event_id = :event_id AND o.status = 'refunded'
    ORDER BY o.refunded_at DESC NULLS LAST, o.order_id""")


@dataclass(frozen=True)
class TierSales:
    code: str
    name: str
    category: str
    price_cents: int
    capacity: int
    sold: int
    held: int
    blocked: int
    revenue_cents: int

    @property
    def available(self) -> int:
        return max(0, self.capacity - self.sold - self.held - self.blocked)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "category": self.category,
                "price_cents": self.price_cents, "capacity": self.capacity, "sold": self.sold,
                "held": self.held, "blocked": self.blocked, "available": self.available,
                "revenue_cents": self.revenue_cents}


@dataclass(frozen=True)
class EventSales:
    event_id: int
    name: str
    status: str
    currency: str
    tiers: list[TierSales]
    paid_orders: int
    refunded_orders: int
    refunded_cents: int
    checked_in: int

    def to_json(self) -> dict[str, Any]:
        tiers = [tier.to_json() for tier in self.tiers]
        totals = {name: sum(tier[name] for tier in tiers)
                  for name in ("capacity", "sold", "held", "blocked", "available",
                               "revenue_cents")}
        return {"event_id": self.event_id, "name": self.name, "status": self.status,
                "currency": self.currency, "tiers": tiers,
                "totals": {**totals, "paid_orders": self.paid_orders,
                           "refunded_orders": self.refunded_orders,
                           "refunded_cents": self.refunded_cents,
                           "checked_in": self.checked_in}}


def event_sales(engine: Engine, event_id: int) -> EventSales | None:
    """The event's sales per price tier (seats and standing places together), from one
    snapshot; None if there is no such event."""
    with engine.connect() as conn:
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        event = conn.execute(_EVENT, {"event_id": event_id}).first()
        if event is None:
            return None
        tiers = [TierSales(row.code, row.name, row.category, int(row.price_cents),
                           int(row.capacity), int(row.sold), int(row.held), int(row.blocked),
                           int(row.revenue_cents))
                 for row in conn.execute(_TIERS, {"event_id": event_id})]
        totals = conn.execute(_ORDER_TOTALS, {"event_id": event_id}).one()
        checked_in = conn.execute(_CHECKED_IN, {"event_id": event_id}).scalar_one()
    return EventSales(event.id, event.name, event.status, event.currency, tiers,
                      int(totals.paid_orders), int(totals.refunded_orders),
                      int(totals.refunded_cents), int(checked_in))


@dataclass(frozen=True)
class Attendee:
    """One e-ticket of the event and who bought it."""

    ticket_id: int
    order_id: str
    order_status: str
    ticket_status: str
    email: str
    name: str
    place: str
    paid_at: datetime | None
    used_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {"ticket_id": self.ticket_id, "order_id": self.order_id,
                "order_status": self.order_status, "ticket_status": self.ticket_status,
                "email": self.email, "name": self.name, "place": self.place,
                "paid_at": _iso(self.paid_at), "used_at": _iso(self.used_at)}


ATTENDEE_COLUMNS = ("ticket_id", "order_id", "order_status", "ticket_status", "email", "name",
                    "place", "paid_at", "used_at")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _place(row: Any) -> str:
    if row.zone is not None:
        return f"{row.zone} (standing)"
    return f"{row.section}, row {row.row}, seat {row.seat}"


def attendees_page(engine: Engine, event_id: int, after_ticket_id: int = 0,
                   limit: int = ATTENDEE_PAGE_SIZE) -> list[Attendee]:
    """The event's tickets after `after_ticket_id`, in ticket order, at most `limit`."""
    with engine.connect() as conn:
        rows = conn.execute(_ATTENDEES, {"event_id": event_id, "after_id": after_ticket_id,
                                         "limit": limit}).all()
    return [Attendee(row.ticket_id, row.order_id, row.order_status, row.ticket_status,
                     row.email or "", row.display_name or "", _place(row), row.paid_at,
                     row.used_at) for row in rows]


def refunds(engine: Engine, event_id: int) -> list[dict[str, Any]]:
    """The event's refunded orders, the latest refund first."""
    with engine.connect() as conn:
        rows = conn.execute(_REFUNDS, {"event_id": event_id}).all()
    return [{"order_id": row.order_id, "total_cents": row.total_cents,
             "quantity": row.quantity, "email": row.email or "", "name": row.display_name or "",
             "paid_at": _iso(row.paid_at), "refunded_at": _iso(row.refunded_at)}
            for row in rows]

