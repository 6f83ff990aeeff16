"""The organizer backoffice's use cases: venues and events, their rules and their SQL.

An organizer manages only their own venues and events; ops manage all. Venues ops
make without an organizer are shared: any organizer may put events on them. Events
are created as drafts, then published or cancelled; once published, what the inventory
depends on (venue, price tiers, buyer limit, currency, hold time) is fixed, because a
loaded inventory and the holds already granted were priced by it.

The HTTP layer (`api/organizer/`) parses and validates the fields, says who acts
(`Actor`) and maps `OrganizingError` codes to statuses; nothing here knows HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

import sqlalchemy as sa

from engine.errors import BookingError
from engine.pricing import PriceTier
from engine.store import catalog
from engine.store.errors import OrganizingCode, OrganizingError
from engine.store.listings import LISTING_COLUMNS

LOCKED_WHEN_PUBLISHED = ("venue_id", "price_tiers", "currency", "buyer_limit",
                         "hold_ttl_seconds")
"""What a published event's inventory was priced by, so it no longer changes."""

_EVENT_COLUMNS = ("name", "description", "category", "starts_at", "onsale_at", "currency",
                  "buyer_limit", "hold_ttl_seconds", "venue_id")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: ops, or an organizer account acting for `organizer_id`.

    For ops, `organizer_id` is the organizer they act for when they name one (an event
    on a shared venue); for an organizer account without venues or events yet, None.
    """

    is_ops: bool
    organizer_id: int | None

    def manages(self, owner_id: int | None) -> bool:
        return self.is_ops or (owner_id is not None and owner_id == self.organizer_id)


def invalid(field: str, reason: str) -> NoReturn:
    raise OrganizingError(OrganizingCode.INVALID_REQUEST, f"{field}: {reason}",
                          {"field": field, "reason": reason})


def _not_owner(what: str) -> OrganizingError:
    return OrganizingError(OrganizingCode.FORBIDDEN,
                           f"Only the organizer of this {what} (or ops) may do this.",
                           {"reason": "not_owner"})


def _event_not_found(event_id: int) -> OrganizingError:
    return OrganizingError(OrganizingCode.EVENT_NOT_FOUND, "No such event.",
                           {"event_id": event_id})


def _invalid_document(error: BookingError, what: str) -> OrganizingError:
    """A seat-map or event validation error of the store, naming the bad element."""
    path = str(error.details.get("path") or "body")
    reason = str(error.details.get("reason") or error.message)
    return OrganizingError(OrganizingCode.INVALID_REQUEST, f"{what}: {path} {reason}",
                           {"field": path, "reason": reason})


# ---------------------------------------------------------------- organizers


def organizer_of(engine: sa.Engine, user_id: int) -> int | None:
    """The organizer an organizer account acts for, if it has one yet."""
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT id FROM organizers WHERE user_id = :user_id"),
                             {"user_id": user_id}).scalar()
    return int(found) if found is not None else None


def ensure_organizer(engine: sa.Engine, user_id: int) -> int:
    """The account's organizer (named after the account), made on first use. Two first
    requests at once both insert: the loser's insert waits for the winner's commit and does
    nothing, then both read it."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO organizers (name, user_id)"
            " SELECT display_name, id FROM users WHERE id = :user_id"
            " ON CONFLICT (user_id) DO NOTHING"), {"user_id": user_id})
        return int(conn.execute(sa.text("SELECT id FROM organizers WHERE user_id = :user_id"),
                                {"user_id": user_id}).scalar_one())


# ---------------------------------------------------------------- venues

_VENUE_SUMMARY = """
    SELECT v.id, v.name, v.city, v.country, v.capacity, v.organizer_id,
           (SELECT count(*) FROM seats s WHERE s.venue_id = v.id) AS seats,
           (SELECT count(*) FROM sections s WHERE s.venue_id = v.id) AS sections,
           (SELECT count(*) FROM ga_zones z WHERE z.venue_id = v.id) AS ga_zones
    FROM venues v"""


def _venue_summary(row: Any) -> dict[str, Any]:
    return {"venue_id": row.id, "name": row.name, "city": row.city, "country": row.country,
            "capacity": row.capacity, "organizer_id": row.organizer_id,
            "seats": row.seats, "sections": row.sections, "ga_zones": row.ga_zones}


def create_venue(engine: sa.Engine, doc: Mapping[str, Any],
                 organizer_id: int | None) -> dict[str, Any]:
    """A venue from a seat-map document (errors name the bad element); its summary."""
    try:
        with engine.begin() as conn:
            if organizer_id is not None and conn.execute(sa.text(
                    "SELECT 1 FROM organizers WHERE id = :id"),
                    {"id": organizer_id}).first() is None:
                invalid("organizer_id", "no such organizer")
            venue_id = catalog.create_venue(conn, doc, organizer_id)
            row = conn.execute(sa.text(_VENUE_SUMMARY + " WHERE v.id = :id"),
                               {"id": venue_id}).one()
    except BookingError as error:
        raise _invalid_document(error, "Invalid seat map") from None
    return _venue_summary(row)


def list_venues(engine: sa.Engine, actor: Actor) -> list[dict[str, Any]]:
    """Ops: every venue; an organizer: their own."""
    if not actor.is_ops and actor.organizer_id is None:
        return []
    with engine.connect() as conn:
        if actor.is_ops:
            rows: Sequence[sa.Row[Any]] = conn.execute(
                sa.text(_VENUE_SUMMARY + " ORDER BY v.id")).all()
        else:
            rows = conn.execute(sa.text(_VENUE_SUMMARY + " WHERE v.organizer_id = :o"
                                        " ORDER BY v.id"), {"o": actor.organizer_id}).all()
    return [_venue_summary(row) for row in rows]


def venue_with_seatmap(engine: sa.Engine, actor: Actor, venue_id: int) -> dict[str, Any]:
    """The venue's summary and seat-map document, for its organizer or ops."""
    with engine.connect() as conn:
        row = conn.execute(sa.text(_VENUE_SUMMARY + " WHERE v.id = :id"),
                           {"id": venue_id}).first()
        doc = conn.execute(sa.text("SELECT seatmap FROM venues WHERE id = :id"),
                           {"id": venue_id}).scalar()
    if row is None:
        raise OrganizingError(OrganizingCode.VENUE_NOT_FOUND, "No such venue.",
                              {"venue_id": venue_id})
    if row.organizer_id is None and not actor.is_ops:
        raise OrganizingError(OrganizingCode.FORBIDDEN,
                              "Only ops manage venues without an organizer.",
                              {"reason": "not_owner"})
    if not actor.manages(row.organizer_id):
        raise _not_owner("venue")
    return {**_venue_summary(row), "seatmap": doc}


def _usable_venue(conn: sa.Connection, venue_id: int, actor: Actor) -> int | None:
    """The venue's organizer (None: a shared venue), checking the actor may use it."""
    row = conn.execute(sa.text("SELECT organizer_id FROM venues WHERE id = :id"),
                       {"id": venue_id}).first()
    if row is None:
        invalid("venue_id", "no such venue")
    if not actor.is_ops and row.organizer_id not in (None, actor.organizer_id):
        raise OrganizingError(OrganizingCode.FORBIDDEN,
                              "You can only put events on your own or shared venues.",
                              {"field": "venue_id", "reason": "not_owner"})
    owner: int | None = row.organizer_id
    return owner


# ---------------------------------------------------------------- events


def _performer_ids(conn: sa.Connection, performers: Sequence[Mapping[str, Any]]) -> list[int]:
    ids: list[int] = []
    for index, performer in enumerate(performers):
        if "performer_id" in performer:
            known = conn.execute(sa.text("SELECT id FROM performers WHERE id = :id"),
                                 {"id": performer["performer_id"]}).scalar()
            if known is None:
                invalid(f"performers[{index}].performer_id", "no such performer")
            ids.append(int(known))
            continue
        existing = conn.execute(sa.text(
            "SELECT id FROM performers WHERE lower(name) = lower(:name) ORDER BY id LIMIT 1"),
            {"name": performer["name"]}).scalar()
        ids.append(int(existing) if existing is not None else catalog.create_performer(
            conn, performer["name"], performer.get("kind", "artist")))
    if len(set(ids)) != len(ids):
        invalid("performers", "lists a performer twice")
    return ids


def create_event(engine: sa.Engine, actor: Actor, fields: Mapping[str, Any], *,
                 default_hold_ttl_seconds: int) -> int:
    """A draft event on a venue the actor may use; its id.

    On a shared venue the event belongs to the actor's organizer (ops must name one).
    """
    try:
        with engine.begin() as conn:
            owner = _usable_venue(conn, fields["venue_id"], actor)
            if actor.is_ops and actor.organizer_id is not None:
                if owner not in (None, actor.organizer_id):
                    invalid("organizer_id", "the venue belongs to another organizer")
                if conn.execute(sa.text("SELECT 1 FROM organizers WHERE id = :id"),
                                {"id": actor.organizer_id}).first() is None:
                    invalid("organizer_id", "no such organizer")
            owner = owner if owner is not None else actor.organizer_id
            if owner is None:
                invalid("organizer_id", "a shared venue: say which organizer the event is for")
            return catalog.create_event(
                conn, organizer_id=owner, venue_id=fields["venue_id"], name=fields["name"],
                category=fields["category"], starts_at=fields["starts_at"],
                onsale_at=fields["onsale_at"],
                price_tiers=[PriceTier(t["code"], t["name"], t["category"], t["price_cents"])
                             for t in fields["price_tiers"]],
                description=fields.get("description", ""),
                performer_ids=_performer_ids(conn, fields.get("performers", [])),
                currency=fields.get("currency", "EUR"),
                buyer_limit=fields.get("buyer_limit", 8),
                hold_ttl_seconds=fields.get("hold_ttl_seconds", default_hold_ttl_seconds))
    except BookingError as error:
        raise _invalid_document(error, "Invalid event") from None


def ensure_manages_event(engine: sa.Engine, actor: Actor, event_id: int) -> str:
    """The event's status, if the actor manages it; someone else's draft does not exist."""
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT organizer_id, status FROM events WHERE id = :id"),
                           {"id": event_id}).first()
    if row is None:
        raise _event_not_found(event_id)
    if not actor.manages(row.organizer_id):
        raise _event_not_found(event_id) if row.status == "draft" else _not_owner("event")
    return str(row.status)


def ensure_on_sale_for_holdbacks(engine: sa.Engine, actor: Actor, event_id: int) -> None:
    """Holdbacks are decided by the event's sale: it must be published, not cancelled."""
    status = ensure_manages_event(engine, actor, event_id)
    if status == "cancelled":
        raise OrganizingError(OrganizingCode.EVENT_CANCELLED,
                              "A cancelled event's seats no longer change.",
                              {"event_id": event_id})
    if status != "published":
        raise OrganizingError(OrganizingCode.EVENT_NOT_PUBLISHED,
                              "Publish the event first: holdbacks are decided by its sale.",
                              {"event_id": event_id, "status": status})


def _locked_event(conn: sa.Connection, event_id: int) -> Any:
    row = conn.execute(sa.text(
        "SELECT id, organizer_id, venue_id, status, onsale_at, starts_at FROM events"
        " WHERE id = :id FOR UPDATE"), {"id": event_id}).first()
    if row is None:
        raise _event_not_found(event_id)
    return row


def update_event(engine: sa.Engine, actor: Actor, event_id: int, fields: Mapping[str, Any],
                 now: datetime) -> None:
    """Change a draft freely, a published event's descriptions, a cancelled one not at all."""
    ensure_manages_event(engine, actor, event_id)
    try:
        with engine.begin() as conn:
            _apply_update(conn, actor, event_id, fields, now)
    except BookingError as error:
        raise _invalid_document(error, "Invalid event") from None


def _apply_update(conn: sa.Connection, actor: Actor, event_id: int,
                  fields: Mapping[str, Any], now: datetime) -> None:
    event = _locked_event(conn, event_id)
    if event.status == "cancelled":
        raise OrganizingError(OrganizingCode.EVENT_CANCELLED,
                              "A cancelled event cannot change.", {"event_id": event_id})
    if event.status == "published":
        for name in LOCKED_WHEN_PUBLISHED:
            if name in fields:
                raise OrganizingError(OrganizingCode.EVENT_LOCKED,
                                      f"{name}: fixed once the event is published",
                                      {"field": name, "reason": "fixed once published"})
        if "onsale_at" in fields and event.onsale_at <= now:
            raise OrganizingError(OrganizingCode.EVENT_LOCKED,
                                  "onsale_at: the sale has already started",
                                  {"field": "onsale_at", "reason": "the sale has started"})
    if fields.get("onsale_at", event.onsale_at) > fields.get("starts_at", event.starts_at):
        invalid("onsale_at", "must not be after starts_at")
    columns = {name: fields[name] for name in _EVENT_COLUMNS if name in fields}
    venue_moves = "venue_id" in fields and fields["venue_id"] != event.venue_id
    if venue_moves:
        _usable_venue(conn, fields["venue_id"], actor)
        conn.execute(sa.text("DELETE FROM ga_inventory WHERE event_id = :id"), {"id": event_id})
    if columns:
        assignments = ", ".join(f"{name} = :{name}" for name in columns)
        conn.execute(sa.text(f"UPDATE events SET {assignments}, updated_at = now()"
                             " WHERE id = :event_id"), {**columns, "event_id": event_id})
    if venue_moves:
        conn.execute(sa.text(
            "INSERT INTO ga_inventory (event_id, zone_id, capacity)"
            " SELECT :event_id, id, capacity FROM ga_zones WHERE venue_id = :venue_id"),
            {"event_id": event_id, "venue_id": fields["venue_id"]})
    if "price_tiers" in fields:
        conn.execute(sa.text("DELETE FROM price_tiers WHERE event_id = :id"), {"id": event_id})
        conn.execute(sa.text(
            "INSERT INTO price_tiers (event_id, code, name, category, price_cents)"
            " VALUES (:event_id, :code, :name, :category, :price_cents)"),
            [{"event_id": event_id, **tier} for tier in fields["price_tiers"]])
    if "price_tiers" in fields or "venue_id" in fields:
        known = catalog.venue_categories(conn, fields.get("venue_id", event.venue_id))
        tiers = conn.execute(sa.text("SELECT category FROM price_tiers WHERE event_id = :id"),
                             {"id": event_id}).scalars().all()
        if not known.intersection(tiers):
            invalid("price_tiers", f"price none of this venue's categories "
                                   f"({', '.join(sorted(known))})")
    if "performers" in fields:
        ids = _performer_ids(conn, fields["performers"])
        conn.execute(sa.text("DELETE FROM event_performers WHERE event_id = :id"),
                     {"id": event_id})
        if ids:
            conn.execute(sa.text(
                "INSERT INTO event_performers (event_id, performer_id, billing_order)"
                " VALUES (:event_id, :performer_id, :billing_order)"),
                [{"event_id": event_id, "performer_id": performer_id, "billing_order": order}
                 for order, performer_id in enumerate(ids)])


def publish_event(engine: sa.Engine, actor: Actor, event_id: int, now: datetime) -> None:
    """Put a draft in the catalog (on sale from its onsale_at); publishing twice is a no-op."""
    ensure_manages_event(engine, actor, event_id)
    with engine.begin() as conn:
        event = _locked_event(conn, event_id)
        if event.status == "published":
            return
        if event.status == "cancelled":
            raise OrganizingError(OrganizingCode.EVENT_CANCELLED,
                                  "A cancelled event cannot be published.",
                                  {"event_id": event_id})
        if event.starts_at <= now:
            raise OrganizingError(OrganizingCode.EVENT_IN_PAST,
                                  "starts_at is in the past; move it first.",
                                  {"field": "starts_at", "reason": "in the past"})
        conn.execute(sa.text("UPDATE events SET status = 'published', updated_at = now()"
                             " WHERE id = :id"), {"id": event_id})


def cancel_event(engine: sa.Engine, actor: Actor, event_id: int) -> None:
    """Cancel the event: its sales stop at once and the partition refunds its paid orders.
    Its sold-out waiting list ends too: entries still waiting for seats (or with an offer
    request out) lapse now; an offer already made ends with its hold, which the partition
    releases, and lapses at the next offer round."""
    ensure_manages_event(engine, actor, event_id)
    with engine.begin() as conn:
        _locked_event(conn, event_id)
        conn.execute(sa.text("UPDATE events SET status = 'cancelled', updated_at = now()"
                             " WHERE id = :id AND status <> 'cancelled'"), {"id": event_id})
        conn.execute(sa.text(
            "UPDATE waiting_list_entries SET status = 'lapsed', updated_at = now()"
            " WHERE event_id = :id AND status IN ('waiting', 'offering', 'standing')"),
            {"id": event_id})


def organizer_events(engine: sa.Engine, actor: Actor, limit: int,
                     before: int | None) -> list[dict[str, Any]]:
    """The listing rows of the actor's events (ops: everyone's), any status, newest first."""
    if not actor.is_ops and actor.organizer_id is None:
        return []
    clauses = ["true"]
    params: dict[str, Any] = {"limit": limit}
    if not actor.is_ops:
        clauses.append("organizer_id = :organizer_id")
        params["organizer_id"] = actor.organizer_id
    if before is not None:
        clauses.append("event_id < :before")
        params["before"] = before
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(sa.text(
            f"SELECT {LISTING_COLUMNS} FROM event_listings WHERE {' AND '.join(clauses)}"
            " ORDER BY event_id DESC LIMIT :limit"), params)]
