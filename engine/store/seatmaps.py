"""Read what a live seat map is built from: a venue's layout and an event's seat states.

The layout (sections, seats with coordinates, GA zones) never changes once a
venue exists, so readers cache it per venue. The event's state (claims, GA
counters, inventory version) is read in one snapshot, so the version matches
the claims exactly and availability deltas with a higher version can be
applied on top of it without gaps or double counting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from engine.store.errors import NotFoundError


@dataclass(frozen=True, slots=True)
class SeatPlace:
    seat_id: int
    section_id: int
    row: str
    label: str
    x: float
    y: float
    category: str
    accessible: bool


@dataclass(frozen=True, slots=True)
class SectionPlace:
    section_id: int
    name: str
    rank: int


@dataclass(frozen=True, slots=True)
class ZonePlace:
    zone_id: int
    name: str
    capacity: int
    category: str


@dataclass(frozen=True)
class VenueLayout:
    venue_id: int
    name: str
    city: str
    country: str
    stage: dict[str, Any] | None
    sections: tuple[SectionPlace, ...]
    seats: tuple[SeatPlace, ...]
    """In drawing order: section, row rank, position in the row."""
    zones: tuple[ZonePlace, ...]


@dataclass(frozen=True, slots=True)
class TierPrice:
    code: str
    name: str
    category: str
    price_cents: int


@dataclass(frozen=True)
class EventSeatState:
    """One consistent snapshot of an event's inventory, at `version`."""

    event_id: int
    venue_id: int
    organizer_id: int
    name: str
    status: str
    currency: str
    version: int
    tiers: tuple[TierPrice, ...]
    claims: dict[int, str]
    """seat id -> held | sold | blocked; seats not listed are available."""
    zones_available: dict[int, int]


def load_layout(engine: Engine, venue_id: int) -> VenueLayout:
    with engine.connect() as conn:
        return layout_of(conn, venue_id)


def layout_of(conn: Connection, venue_id: int) -> VenueLayout:
    venue = conn.execute(text(
        "SELECT name, city, country, seatmap -> 'stage' AS stage FROM venues WHERE id = :id"),
        {"id": venue_id}).first()
    if venue is None:
        raise NotFoundError(f"venue {venue_id} does not exist")
    params = {"venue_id": venue_id}
    sections = tuple(SectionPlace(*row) for row in conn.execute(text(
        "SELECT id, name, rank FROM sections WHERE venue_id = :venue_id ORDER BY rank, id"),
        params))
    seats = tuple(SeatPlace(*row) for row in conn.execute(text(
        "SELECT id, section_id, row_label, label, x, y, category, accessible FROM seats"
        " WHERE venue_id = :venue_id ORDER BY section_id, row_rank, row_label, position"),
        params))
    zones = tuple(ZonePlace(*row) for row in conn.execute(text(
        "SELECT id, name, capacity, category FROM ga_zones WHERE venue_id = :venue_id"
        " ORDER BY id"), params))
    return VenueLayout(venue_id, venue.name, venue.city, venue.country, venue.stage,
                       sections, seats, zones)


def load_event_state(engine: Engine, event_id: int) -> EventSeatState:
    """The event's seat states and version from one REPEATABLE READ snapshot."""
    with engine.connect().execution_options(
            isolation_level="REPEATABLE READ") as conn, conn.begin():
        event = conn.execute(text(
            "SELECT venue_id, organizer_id, name, status, currency, inventory_version"
            " FROM events WHERE id = :id"), {"id": event_id}).first()
        if event is None:
            raise NotFoundError(f"event {event_id} does not exist")
        params = {"event_id": event_id}
        tiers = tuple(TierPrice(*row) for row in conn.execute(text(
            "SELECT code, name, category, price_cents FROM price_tiers"
            " WHERE event_id = :event_id ORDER BY price_cents DESC, code"), params))
        claims = {int(seat_id): state for seat_id, state in conn.execute(text(
            "SELECT seat_id, state FROM seat_claims WHERE event_id = :event_id"), params)}
        zones = {int(zone_id): int(left) for zone_id, left in conn.execute(text(
            "SELECT zone_id, capacity - held - sold FROM ga_inventory"
            " WHERE event_id = :event_id"), params)}
    return EventSeatState(event_id, int(event.venue_id), int(event.organizer_id), event.name,
                          event.status, event.currency, int(event.inventory_version), tiers,
                          claims, zones)


def event_versions(engine: Engine, event_ids: list[int]) -> dict[int, tuple[int, str]]:
    """(inventory version, status) per event, to notice a cache that missed changes."""
    if not event_ids:
        return {}
    with engine.connect() as conn:
        return {int(event_id): (int(version), status)
                for event_id, version, status in conn.execute(text(
                    "SELECT id, inventory_version, status FROM events"
                    " WHERE id = ANY(CAST(:ids AS bigint[]))"), {"ids": event_ids})}
