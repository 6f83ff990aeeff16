"""The sold-out waiting list in Postgres: who waits, in which order, and where their offer is.

The list only decides WHO is offered next (the first `waiting` entry, one offer request
at a time, so offers go out in list order); WHICH seats is decided by the partition
(`OfferSeats` -> `SeatsOffered`, a hold for that fan), in queue order with bookings, so an
offered seat cannot be taken by anyone else while the offer stands. `settle` moves
entries on from what the partition recorded (`booking_requests`, `holds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from engine.store.presales import tier_access

MAX_WAITING_LIST_QUANTITY = 8


def offer_page_path(event_id: int | str) -> str:
    """The fan's waiting-list page of the event (place, offer, checkout): the offer mail
    links to it, `api.fan.waiting_list_page` serves it."""
    return f"/events/{event_id}/waiting-list/page"


@dataclass(frozen=True, slots=True)
class ListEntry:
    id: int
    event_id: int
    account_id: int
    quantity: int
    tier: str | None
    status: str
    place: int | None
    """1-based place among entries still waiting (None once offered or done)."""
    hold_id: str | None
    offer_expires_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "entry_id": self.id,
            "event_id": self.event_id,
            "quantity": self.quantity,
            "tier": self.tier,
            "status": self.status,
            "place": self.place,
            "hold_id": self.hold_id,
            "offer_expires_at": (
                self.offer_expires_at.isoformat() if self.offer_expires_at else None
            ),
        }


_ENTRY = text("""
    SELECT w.id, w.event_id, w.account_id, w.quantity, w.tier, w.status, w.hold_id,
           w.offer_expires_at,
           CASE WHEN w.status = 'waiting' THEN (
               SELECT count(*) FROM waiting_list_entries o
               WHERE o.event_id = w.event_id AND o.status = 'waiting' AND o.id <= w.id)
           END AS place
    FROM waiting_list_entries w
    WHERE w.event_id = :event_id AND w.account_id = :account_id
    ORDER BY w.id DESC LIMIT 1""")
_FREE_SEATS = text("""
    SELECT count(*) FROM events e
    JOIN seats s ON s.venue_id = e.venue_id
    JOIN price_tiers t ON t.event_id = e.id AND t.category = s.category
    LEFT JOIN seat_claims c ON c.event_id = e.id AND c.seat_id = s.id
    WHERE e.id = :event_id AND c.seat_id IS NULL
      AND (CAST(:tier AS text) IS NULL OR t.code = :tier)
      AND EXISTS (SELECT 1 FROM price_tiers u WHERE u.event_id = e.id
                  AND u.category = s.category AND NOT (u.code = ANY(CAST(:closed AS text[]))))""")


def _entry(row: Any) -> ListEntry:
    return ListEntry(row.id, row.event_id, row.account_id, row.quantity, row.tier, row.status,
                     None if row.place is None else int(row.place), row.hold_id,
                     row.offer_expires_at)


def free_seats(conn: Connection, event_id: int, tier: str | None,
               closed: frozenset[str] = frozenset()) -> int:
    """Seats of the event (of the tier) with no claim: what the list may be offered; with
    `closed` (locked presale tiers the fan was not let into), only seats the fan may get."""
    return int(conn.execute(_FREE_SEATS, {"event_id": event_id, "tier": tier,
                                          "closed": sorted(closed)}).scalar_one())


def is_published(conn: Connection, event_id: int) -> bool:
    found = conn.execute(text("SELECT 1 FROM events WHERE id = :id AND status = 'published'"),
                         {"id": event_id}).first()
    return found is not None


def entry_of(engine: Engine, event_id: int, account_id: int) -> ListEntry | None:
    with engine.connect() as conn:
        row = conn.execute(_ENTRY, {"event_id": event_id, "account_id": account_id}).first()
    return None if row is None else _entry(row)


def join_list(engine: Engine, event_id: int, account_id: int, quantity: int,
              tier: str | None) -> tuple[ListEntry, bool]:
    """The account's entry (created at the back, or the one it already has) and whether new."""
    try:
        with engine.begin() as conn:
            inserted = conn.execute(text(
                "INSERT INTO waiting_list_entries (event_id, account_id, quantity, tier)"
                " VALUES (:event_id, :account_id, :quantity, :tier)"
                " ON CONFLICT (event_id, account_id)"
                "  WHERE status IN ('waiting', 'offering', 'offered') DO NOTHING RETURNING id"),
                {"event_id": event_id, "account_id": account_id, "quantity": quantity,
                 "tier": tier}).first()
    except IntegrityError:  # a concurrent join of the same account won
        inserted = None
    entry = entry_of(engine, event_id, account_id)
    assert entry is not None
    return entry, inserted is not None


def leave_list(engine: Engine, event_id: int, account_id: int) -> bool:
    with engine.begin() as conn:
        left = conn.execute(text(
            "UPDATE waiting_list_entries SET status = 'left', updated_at = now()"
            " WHERE event_id = :event_id AND account_id = :account_id AND status = 'waiting'"),
            {"event_id": event_id, "account_id": account_id}).rowcount
    return bool(left)


@dataclass(frozen=True, slots=True)
class OfferDue:
    entry_id: int
    event_id: int
    account_id: int
    quantity: int
    tier: str | None
    unlocked_tiers: tuple[str, ...] = ()
    """Presale tiers the fan was let into: the offer request carries them to the partition."""


def next_offer(engine: Engine, event_id: int) -> OfferDue | None:
    """The head of the list, if no offer request is out and enough seats are free for it."""
    with engine.connect() as conn:
        busy = conn.execute(text(
            "SELECT 1 FROM waiting_list_entries WHERE event_id = :event_id"
            " AND status = 'offering' LIMIT 1"), {"event_id": event_id}).first()
        if busy is not None:
            return None
        head = conn.execute(text(
            "SELECT id, account_id, quantity, tier FROM waiting_list_entries"
            " WHERE event_id = :event_id AND status = 'waiting' ORDER BY id LIMIT 1"),
            {"event_id": event_id}).first()
        if head is None:
            return None
        access = tier_access(conn, event_id, head.account_id)
        if free_seats(conn, event_id, head.tier, access.closed) < head.quantity:
            return None
    return OfferDue(head.id, event_id, head.account_id, head.quantity, head.tier,
                    tuple(sorted(access.unlocked)))


def mark_offering(engine: Engine, entry_id: int, request_id: str) -> bool:
    with engine.begin() as conn:
        return bool(conn.execute(text(
            "UPDATE waiting_list_entries SET status = 'offering', request_id = :request_id,"
            " updated_at = now() WHERE id = :id AND status = 'waiting'"),
            {"id": entry_id, "request_id": request_id}).rowcount)


_SETTLE_OFFERING = text("""
    UPDATE waiting_list_entries w
    SET status = CASE WHEN h.hold_id IS NULL THEN 'waiting' ELSE 'offered' END,
        hold_id = h.hold_id, offer_expires_at = h.expires_at, updated_at = now()
    FROM booking_requests r LEFT JOIN holds h ON h.request_id = r.request_id
    WHERE w.event_id = :event_id AND w.status = 'offering' AND r.request_id = w.request_id
      AND r.status <> 'pending'
    RETURNING w.id, w.account_id, w.status, w.hold_id, w.offer_expires_at""")
_LOST_OFFERING_SECONDS = 60
_RETRY_LOST = text(f"""
    UPDATE waiting_list_entries w SET status = 'waiting', request_id = NULL, updated_at = now()
    WHERE w.event_id = :event_id AND w.status = 'offering'
      AND w.updated_at < now() - interval '{_LOST_OFFERING_SECONDS} seconds'
      AND NOT EXISTS (SELECT 1 FROM booking_requests r WHERE r.request_id = w.request_id)""")
_SETTLE_OFFERED = text("""
    UPDATE waiting_list_entries w
    SET status = CASE WHEN h.status = 'sold' THEN 'taken' ELSE 'lapsed' END,
        updated_at = now()
    FROM holds h
    WHERE w.event_id = :event_id AND w.status = 'offered' AND h.hold_id = w.hold_id
      AND h.status <> 'active'
    RETURNING w.id, w.status""")
_OFFER_MAIL = text("""
    INSERT INTO notifications (kind, order_id, user_id, recipient, subject, body)
    SELECT 'waitlist_offer', :hold_id, u.id, u.email,
           'Tickets for ' || e.name || ' are held for you',
           'Hello ' || u.display_name || E',\\n\\nSeats came back for ' || e.name
           || ' and are held for you until ' || :expires_text
           || E' (UTC). Check out before then on your waiting-list page:\\n\\n'
           || :page_url || E'\\n\\nAfter that they go to the next fan on the waiting list.\\n'
    FROM users u, events e WHERE u.id = :account_id AND e.id = :event_id
    ON CONFLICT (kind, order_id) DO NOTHING""")


@dataclass(frozen=True, slots=True)
class Settled:
    offered: list[int]
    """Entries whose offer the partition made (a mail is in the outbox for each)."""
    returned: list[int]
    """Entries the partition had no seats for: waiting again, still first in line."""
    ended: list[tuple[int, str]]
    """(entry, taken | lapsed) for offers that ended."""


def settle(engine: Engine, event_id: int, site_url: str = "") -> Settled:
    """Move entries on from what the partition decided; write the offer mails (linking to
    the fan's waiting-list page under `site_url`, the address fans open the site at)."""
    with engine.begin() as conn:
        moved = conn.execute(_SETTLE_OFFERING, {"event_id": event_id}).all()
        for row in moved:
            if row.status == "offered":
                conn.execute(_OFFER_MAIL, {
                    "hold_id": row.hold_id, "account_id": row.account_id,
                    "event_id": event_id,
                    "page_url": site_url.rstrip("/") + offer_page_path(event_id),
                    "expires_text": row.offer_expires_at.strftime("%Y-%m-%d %H:%M")})
        ended = conn.execute(_SETTLE_OFFERED, {"event_id": event_id}).all()
        conn.execute(_RETRY_LOST, {"event_id": event_id})  # a request lost with Redis
    return Settled([r.id for r in moved if r.status == "offered"],
                   [r.id for r in moved if r.status == "waiting"],
                   [(r.id, r.status) for r in ended])


def events_with_a_list(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT DISTINCT event_id FROM waiting_list_entries"
            " WHERE status IN ('waiting', 'offering', 'offered') ORDER BY event_id"))
        return [int(event_id) for (event_id,) in rows]
