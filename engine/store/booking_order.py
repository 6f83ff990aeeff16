"""The order in which the partition decided fans' first booking requests, for the draw report.

Read-only: the first hold decision (held or rejected) per buyer in the event's
inventory log, which is what the audit compares with the waiting-room order.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from engine.events import EventType

_FIRST_DECISIONS = text("""
    SELECT (payload->>'buyer_id')::bigint AS buyer_id, min(seq) AS first_seq
    FROM inventory_events
    WHERE event_id = :event_id AND type IN (:held, :rejected)
    GROUP BY 1
""")


def first_hold_decisions(engine: Engine, event_id: int) -> dict[int, int]:
    """buyer id -> log seq of the buyer's first hold decision for the event."""
    with engine.connect() as conn:
        rows = conn.execute(
            _FIRST_DECISIONS,
            {
                "event_id": event_id,
                "held": EventType.SEATS_HELD.value,
                "rejected": EventType.HOLD_REJECTED.value,
            },
        )
        return {int(buyer): int(seq) for buyer, seq in rows if buyer is not None}
