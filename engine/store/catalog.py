"""Write the catalog: venues from seat-map documents, events with their tiers and performers.

Functions take a SQLAlchemy `Session` or `Connection` and never commit: the
caller owns the transaction (an API handler, the demo loader, a test).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from engine.errors import BookingError, ErrorCode
from engine.pricing import PriceTier
from engine.seatmap import venue_from_seatmap
from engine.venue import Venue

ID_BLOCK_START = 64
ID_BLOCK_MAX = 8192
SEAT_COLUMNS = ("id", "venue_id", "section_id", "row_label", "row_rank", "position", "label",
                "x", "y", "category", "accessible")


def connection_of(db: Session | Connection) -> Connection:
    return db.connection() if isinstance(db, Session) else db


def sequence_ids(conn: Connection, table: str) -> Iterator[int]:
    """Ids from a table's identity sequence, drawn lazily in growing blocks.

    The venue builder asks for ids one by one; drawing blocks keeps that to a
    few round trips. Unused ids at the end are simply skipped (gaps are fine).
    """
    block = ID_BLOCK_START
    while True:
        ids = conn.execute(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id'))"
                 " FROM generate_series(1, :count)"),
            {"table": table, "count": block}).scalars().all()
        yield from ids
        block = min(block * 2, ID_BLOCK_MAX)


def copy_rows(conn: Connection, table: str, columns: Sequence[str],
              rows: Iterator[Sequence[Any]] | Sequence[Sequence[Any]]) -> None:
    """Bulk insert with COPY on the connection's own transaction."""
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def create_venue(db: Session | Connection, doc: Mapping[str, Any],
                 organizer_id: int | None = None) -> int:
    """Validate a seat map and store it as venue, sections, seats and zones; returns the id.

    Raises BookingError(INVALID_REQUEST) naming the bad element of the document.
    """
    conn = connection_of(db)
    venue_id = conn.execute(
        text("SELECT nextval(pg_get_serial_sequence('venues', 'id'))")).scalar_one()
    venue = venue_from_seatmap(doc, venue_id, sequence_ids(conn, "seats"),
                               sequence_ids(conn, "sections"), sequence_ids(conn, "ga_zones"))
    conn.execute(text(
        "INSERT INTO venues (id, name, city, country, organizer_id, capacity, seatmap)"
        " VALUES (:id, :name, :city, :country, :organizer_id, :capacity, CAST(:seatmap AS jsonb))"
    ), {"id": venue_id, "name": venue.name, "city": venue.city,
        "country": doc.get("country", ""), "organizer_id": organizer_id,
        "capacity": venue.capacity, "seatmap": _json(doc)})
    insert_venue_parts(conn, venue)
    return int(venue_id)


def insert_venue_parts(conn: Connection, venue: Venue) -> None:
    if venue.sections:
        copy_rows(conn, "sections", ("id", "venue_id", "name", "rank"),
                  [(s.section_id, venue.venue_id, s.name, s.rank) for s in venue.sections])
    copy_rows(conn, "seats", SEAT_COLUMNS, _seat_rows(venue))
    if venue.ga_zones:
        copy_rows(conn, "ga_zones", ("id", "venue_id", "name", "capacity", "category"),
                  [(z.zone_id, venue.venue_id, z.name, z.capacity, z.category)
                   for z in venue.ga_zones])


def _seat_rows(venue: Venue) -> Iterator[tuple[Any, ...]]:
    for section in venue.sections:
        for row in section.rows:
            for position, seat_id in enumerate(row.seat_ids):
                seat = venue.seats[seat_id]
                yield (seat_id, venue.venue_id, section.section_id, row.label, row.rank,
                       position, seat.label, seat.x, seat.y, seat.category, seat.accessible)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def venue_categories(conn: Connection, venue_id: int) -> set[str]:
    return set(conn.execute(text(
        "SELECT DISTINCT category FROM seats WHERE venue_id = :venue_id"
        " UNION SELECT category FROM ga_zones WHERE venue_id = :venue_id"),
        {"venue_id": venue_id}).scalars())


def create_event(
    db: Session | Connection,
    *,
    organizer_id: int,
    venue_id: int,
    name: str,
    category: str,
    starts_at: datetime,
    onsale_at: datetime,
    price_tiers: Sequence[PriceTier],
    description: str = "",
    performer_ids: Sequence[int] = (),
    status: str = "draft",
    currency: str = "EUR",
    buyer_limit: int = 8,
    hold_ttl_seconds: int = 600,
) -> int:
    """Create an event on a venue with its price tiers, performers and GA counters.

    Performers are billed in the order given (the first is the headliner).
    """
    if starts_at.tzinfo is None or onsale_at.tzinfo is None:
        _invalid("starts_at", "must carry a time zone")
    if onsale_at > starts_at:
        _invalid("onsale_at", "must not be after starts_at")
    if not price_tiers:
        _invalid("price_tiers", "must not be empty")
    conn = connection_of(db)
    known = venue_categories(conn, venue_id)
    if not known.intersection(tier.category for tier in price_tiers):
        # Tiers for categories the venue lacks are allowed (a promoter's standard
        # tier set), but an event that can sell nothing is a mistake.
        _invalid("price_tiers", f"price none of this venue's categories "
                                f"({', '.join(sorted(known))})")
    event_id = conn.execute(text(
        "INSERT INTO events (organizer_id, venue_id, name, description, category, starts_at,"
        " onsale_at, status, currency, buyer_limit, hold_ttl_seconds)"
        " VALUES (:organizer_id, :venue_id, :name, :description, :category, :starts_at,"
        " :onsale_at, :status, :currency, :buyer_limit, :hold_ttl_seconds) RETURNING id"
    ), {"organizer_id": organizer_id, "venue_id": venue_id, "name": name,
        "description": description, "category": category, "starts_at": starts_at,
        "onsale_at": onsale_at, "status": status, "currency": currency,
        "buyer_limit": buyer_limit, "hold_ttl_seconds": hold_ttl_seconds}).scalar_one()
    conn.execute(text(
        "INSERT INTO price_tiers (event_id, code, name, category, price_cents)"
        " VALUES (:event_id, :code, :name, :category, :price_cents)"),
        [{"event_id": event_id, "code": t.code, "name": t.name, "category": t.category,
          "price_cents": t.price_cents} for t in price_tiers])
    if performer_ids:
        conn.execute(text(
            "INSERT INTO event_performers (event_id, performer_id, billing_order)"
            " VALUES (:event_id, :performer_id, :billing_order)"),
            [{"event_id": event_id, "performer_id": performer_id, "billing_order": order}
             for order, performer_id in enumerate(performer_ids)])
    conn.execute(text(
        "INSERT INTO ga_inventory (event_id, zone_id, capacity)"
        " SELECT :event_id, id, capacity FROM ga_zones WHERE venue_id = :venue_id"),
        {"event_id": event_id, "venue_id": venue_id})
    return int(event_id)


def create_organizer(db: Session | Connection, name: str, user_id: int | None = None) -> int:
    return int(connection_of(db).execute(text(
        "INSERT INTO organizers (name, user_id) VALUES (:name, :user_id) RETURNING id"),
        {"name": name, "user_id": user_id}).scalar_one())


def create_performer(db: Session | Connection, name: str, kind: str = "artist",
                     description: str = "") -> int:
    return int(connection_of(db).execute(text(
        "INSERT INTO performers (name, kind, description) VALUES (:name, :kind, :description)"
        " RETURNING id"), {"name": name, "kind": kind, "description": description}).scalar_one())


def _invalid(path: str, reason: str) -> NoReturn:
    raise BookingError(ErrorCode.INVALID_REQUEST, f"Invalid event: {path} {reason}.",
                       {"path": path, "reason": reason})
