"""Small hand-made venues for unit tests (the demo layouts live in engine/layouts.py)."""

from __future__ import annotations

from engine.pricing import EventSetup, PriceTier
from engine.venue import GaZone, Row, Seat, Section, Venue


def grid_venue(sections: int = 2, rows: int = 3, seats_per_row: int = 6,
               ga_capacity: int = 10) -> Venue:
    """Sections of equal rows; section 1 is best, row A is best; categories A (front) / B."""
    section_list: list[Section] = []
    seat_list: list[Seat] = []
    next_seat_id = 1
    for s in range(1, sections + 1):
        row_list: list[Row] = []
        for r in range(rows):
            ids = []
            for n in range(seats_per_row):
                category = "A" if r == 0 else "B"
                seat_list.append(Seat(next_seat_id, s, chr(65 + r), str(n + 1), float(n),
                                      float(r), category, accessible=(n == 0)))
                ids.append(next_seat_id)
                next_seat_id += 1
            row_list.append(Row(chr(65 + r), r, tuple(ids)))
        section_list.append(Section(s, f"Section {s}", s, tuple(row_list)))
    zones = (GaZone(900, "Floor", ga_capacity, "GA"),) if ga_capacity else ()
    return Venue.build(1, "Test Hall", section_list, seat_list, zones, city="Testville")


def setup_for(venue: Venue, buyer_limit: int = 6, hold_ttl_seconds: float = 60.0) -> EventSetup:
    tiers = (
        PriceTier("front", "Front", "A", 9000),
        PriceTier("standard", "Standard", "B", 5000),
        PriceTier("floor", "Floor", "GA", 4000),
    )
    return EventSetup(7, venue, tiers, buyer_limit=buyer_limit, hold_ttl_seconds=hold_ttl_seconds)
