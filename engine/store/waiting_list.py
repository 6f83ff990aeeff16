"""The sold-out waiting list in Postgres: who waits, in which order, and where their offer is.

The list decides WHO has an offer out: the first `MAX_OFFERS_OUT` entries still on the
list, each with an `offer` request carrying its place (`list_order`, the entry id). WHICH
seats, and WHEN, is decided by the partition: an offer it cannot serve at once stands
there (`StandingOfferPlaced`, table `standing_offers`) and is served (`SeatsOffered`, a
hold for that fan) right after the command that frees seats, in list order, in queue
order with bookings, so returned seats go to the list before any later booking can take
them. `settle` moves entries on from what the partition recorded (`booking_requests`,
`holds`).

Entry states: `waiting` -> `offering` (the request is on the partition queue) ->
`standing` (the partition keeps it until seats come back) -> `offered` (a hold for the fan;
straight from `offering` when seats were free) -> `taken` (sold) or `lapsed` (expired or
released). `left` when the fan leaves; a standing offer is then withdrawn on the partition
(`withdraw_offer` request).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from engine.store.presales import tier_access

MAX_WAITING_LIST_QUANTITY = 8
MAX_OFFERS_OUT = 5
"""Entries per event with an offer out (`offering` or `standing`) at once: the first five
still on the list, so one freeing batch can serve up to five fans in list order."""
_ACTIVE = "('waiting', 'offering', 'standing', 'offered')"


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
    """1-based place among entries still waiting for seats (`waiting`, `offering`,
    `standing`); None once offered or done."""
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
           CASE WHEN w.status IN ('waiting', 'offering', 'standing') THEN (
               SELECT count(*) FROM waiting_list_entries o
               WHERE o.event_id = w.event_id AND o.status IN ('waiting', 'offering', 'standing')
                 AND o.id <= w.id)
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
                f"  WHERE status IN {_ACTIVE} DO NOTHING RETURNING id"),
                {"event_id": event_id, "account_id": account_id, "quantity": quantity,
                 "tier": tier}).first()
    except IntegrityError:  # a concurrent join of the same account won
        inserted = None
    entry = entry_of(engine, event_id, account_id)
    assert entry is not None
    return entry, inserted is not None


@dataclass(frozen=True, slots=True)
class Left:
    left: bool
    """The account had an entry waiting for an offer and left the list now."""
    offer_id: str | None
    """Its offer request, if one was out (`offering` or `standing`): the caller withdraws
    it on the partition."""


def leave_list(engine: Engine, event_id: int, account_id: int) -> Left:
    """Leave the list while no offer was made yet (an offered fan releases the hold)."""
    with engine.begin() as conn:
        row = conn.execute(text(
            "UPDATE waiting_list_entries w SET status = 'left', updated_at = now()"
            " FROM waiting_list_entries o WHERE o.id = w.id"
            " AND w.event_id = :event_id AND w.account_id = :account_id"
            " AND w.status IN ('waiting', 'offering', 'standing')"
            " RETURNING o.status AS was, w.request_id"),
            {"event_id": event_id, "account_id": account_id}).first()
    if row is None:
        return Left(False, None)
    return Left(True, row.request_id if row.was in ("offering", "standing") else None)


@dataclass(frozen=True, slots=True)
class OfferDue:
    entry_id: int
    event_id: int
    account_id: int
    quantity: int
    tier: str | None
    since: datetime
    """When the entry last changed: with its id, the offer request's idempotency key."""
    unlocked_tiers: tuple[str, ...] = ()
    """Presale tiers the fan was let into: the offer request carries them to the partition."""


SCAN_FOR_OFFERS = 200
"""Waiting entries a round looks at to find the next ones to offer (entries for a tier closed
to their fan are passed over)."""


def next_offers(engine: Engine, event_id: int,
                max_out: int = MAX_OFFERS_OUT) -> list[OfferDue]:
    """Waiting entries, in list order, to send an offer for: as many as keep `max_out`
    entries with an offer out. Sent whether or not seats are free: an offer the partition
    cannot serve stands there until seats come back."""
    with engine.connect() as conn:
        out = int(conn.execute(text(
            "SELECT count(*) FROM waiting_list_entries WHERE event_id = :event_id"
            " AND status IN ('offering', 'standing')"), {"event_id": event_id}).scalar_one())
        if out >= max_out:
            return []
        rows = conn.execute(text(
            "SELECT id, account_id, quantity, tier, updated_at FROM waiting_list_entries"
            " WHERE event_id = :event_id AND status = 'waiting' ORDER BY id LIMIT :n"),
            {"event_id": event_id, "n": SCAN_FOR_OFFERS}).all()
        due: list[OfferDue] = []
        for row in rows:
            access = tier_access(conn, event_id, row.account_id)
            if row.tier is not None and row.tier in access.closed:
                # A presale locked the tier after the fan joined: the partition would refuse
                # the offer. The entry waits (taking no offer place) until the fan is let
                # into that presale or leaves.
                continue
            due.append(OfferDue(row.id, event_id, row.account_id, row.quantity, row.tier,
                                row.updated_at, tuple(sorted(access.unlocked))))
            if len(due) == max_out - out:
                break
        return due


@dataclass(frozen=True, slots=True)
class WithdrawalDue:
    offer_id: str
    account_id: int


def withdrawals_due(engine: Engine, event_id: int) -> list[WithdrawalDue]:
    """Offers of entries that left the list which the partition still keeps (standing, or
    served and not sold): a withdrawal the leave could not send, or that was lost."""
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT w.request_id, w.account_id FROM waiting_list_entries w
            WHERE w.event_id = :event_id AND w.status = 'left' AND w.request_id IS NOT NULL
              AND (EXISTS (SELECT 1 FROM standing_offers s WHERE s.offer_id = w.request_id)
                   OR EXISTS (SELECT 1 FROM holds h WHERE h.request_id = w.request_id
                              AND h.status = 'active'))
            ORDER BY w.id"""), {"event_id": event_id}).all()
    return [WithdrawalDue(str(row.request_id), int(row.account_id)) for row in rows]


def mark_offering(engine: Engine, entry_id: int, request_id: str) -> bool:
    with engine.begin() as conn:
        return bool(conn.execute(text(
            "UPDATE waiting_list_entries SET status = 'offering', request_id = :request_id,"
            " updated_at = now() WHERE id = :id AND status = 'waiting'"),
            {"id": entry_id, "request_id": request_id}).rowcount)


# An offer request decided: served (a hold) -> offered; kept by the partition -> standing;
# neither (refused: an offer that can never be served) -> waiting, still first. A standing
# entry moves on once its offer is served (a hold appears for its request).
_SETTLE_OFFERING = text("""
    UPDATE waiting_list_entries w
    SET status = CASE WHEN h.hold_id IS NOT NULL THEN 'offered'
                      WHEN r.outcome -> 'result' ->> 'standing' = 'true' THEN 'standing'
                      ELSE 'waiting' END,
        hold_id = h.hold_id, offer_expires_at = h.expires_at, updated_at = now()
    FROM booking_requests r LEFT JOIN holds h ON h.request_id = r.request_id
    WHERE w.event_id = :event_id AND r.request_id = w.request_id AND r.status <> 'pending'
      AND (w.status = 'offering' OR (w.status = 'standing' AND h.hold_id IS NOT NULL))
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
    standing: list[int]
    """Entries whose offer the partition keeps until seats come back."""
    returned: list[int]
    """Entries whose offer the partition refused: waiting again, still first in line."""
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
                   [r.id for r in moved if r.status == "standing"],
                   [r.id for r in moved if r.status == "waiting"],
                   [(r.id, r.status) for r in ended])


def events_with_a_list(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT DISTINCT event_id FROM waiting_list_entries"
            f" WHERE status IN {_ACTIVE} OR (status = 'left' AND request_id IS NOT NULL"
            "  AND updated_at > now() - interval '1 hour') ORDER BY event_id"))
        return [int(event_id) for (event_id,) in rows]


STATUSES = ("waiting", "offering", "standing", "offered", "taken", "lapsed", "left")


def status_counts(engine: Engine, event_id: int) -> dict[str, int]:
    """How many of the event's list entries are in each status (every status, zeros too):
    the organizer's view of the list."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT status, count(*) AS n FROM waiting_list_entries"
            " WHERE event_id = :event_id GROUP BY status"), {"event_id": event_id}).all()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({str(row.status): int(row.n) for row in rows})
    return counts
