"""The seats an organizer holds back from sale (blocked), as the partition last committed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

_BLOCKED = text("""
    SELECT s.id AS seat_id, sec.name AS section, s.section_id, s.row_label AS row,
           s.label AS seat, s.category
    FROM seat_claims c
    JOIN seats s ON s.id = c.seat_id
    JOIN sections sec ON sec.id = s.section_id
    WHERE c.event_id = :event_id AND c.state = 'blocked'
    ORDER BY sec.rank, s.section_id, s.row_rank, s.position""")


def blocked_seats(engine: Engine, event_id: int) -> list[dict[str, Any]]:
    """Every blocked seat of the event with its place, in seat-map order."""
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(_BLOCKED, {"event_id": event_id})]
