"""Small catalogs for store tests: a venue from a seat-map doc, an event on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from engine.pricing import PriceTier
from engine.seatmap import SeatMapDoc
from engine.store import catalog

START = datetime(2030, 6, 1, 19, 30, tzinfo=UTC)


def grid_doc(sections: int = 2, rows: int = 3, seats_per_row: int = 5,
             ga_capacity: int = 0, name: str = "Test Hall") -> SeatMapDoc:
    """Sections side by side; the first row of each section is category "front"."""
    doc: SeatMapDoc = {"name": name, "city": "Testville", "sections": [], "ga_zones": []}
    pitch_x = 1000.0 / (sections * seats_per_row + 1)
    pitch_y = 1000.0 / (rows + 1)
    for s in range(sections):
        doc["sections"].append({"name": f"S{s + 1}", "rank": s, "rows": [
            {"label": chr(ord("A") + r), "rank": r, "seats": [
                {"label": str(n + 1), "x": (s * seats_per_row + n + 1) * pitch_x,
                 "y": (r + 1) * pitch_y,
                 "category": "front" if r == 0 else "standard"}
                for n in range(seats_per_row)]}
            for r in range(rows)]})
    if ga_capacity:
        doc["ga_zones"].append({"name": "Floor", "capacity": ga_capacity, "category": "ga"})
    return doc


TIERS = (PriceTier("F", "Front", "front", 9000), PriceTier("S", "Standard", "standard", 5000))
GA_TIER = PriceTier("G", "General admission", "ga", 3000)


def make_event(engine: Engine, doc: SeatMapDoc | None = None, *, buyer_limit: int = 8,
               **event: Any) -> tuple[int, int]:
    """Create organizer, venue and a published event; returns (venue_id, event_id)."""
    doc = doc or grid_doc()
    with engine.begin() as conn:
        organizer_id = catalog.create_organizer(conn, "Test Promotions")
        venue_id = catalog.create_venue(conn, doc)
        categories = catalog.venue_categories(conn, venue_id)
        known = {tier.category: tier for tier in (*TIERS, GA_TIER)}
        tiers = [known.get(category) or PriceTier(category, f"Category {category}", category,
                                                  4000)
                 for category in sorted(categories)]
        event_id = catalog.create_event(
            conn, organizer_id=organizer_id, venue_id=venue_id, name="Test Night",
            category="concert", starts_at=START, onsale_at=START - timedelta(days=30),
            price_tiers=tiers, status="published", buyer_limit=buyer_limit, **event)
    return venue_id, event_id
