"""The stock figures the waiting room reads, written by the partition that owns the event.

With every published batch, for each event the batch touched: the tickets left right
after deciding it, and how many holds fans made and how many tickets they took. They
go into the room's state hash (`waitingroom.keys.RoomKeys.state`, the event's hash
tag), inside the same publish script as the batch's other writes, so the room reads
them in the one script call a poll or a controller step already makes
(`waitingroom.stock` turns them into the outlook and the admission cap).
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.events import SeatsHeld
from waitingroom.keys import RoomKeys
from workers.decider import BatchDecision
from workers.publish import Commands


def stock_writes(prefix: str, decision: BatchDecision,
                 tickets_left: Mapping[int, int]) -> Commands:
    """The publish script's writes for the stock of each event in `tickets_left`."""
    writes = Commands()
    for event_id, left in tickets_left.items():
        state = RoomKeys(prefix, event_id).state
        writes.hset(state, {"tickets_left": left})
        holds = tickets = 0
        for event in decision.events_by_event.get(event_id, ()):
            if isinstance(event, SeatsHeld):
                holds += 1
                tickets += event.quantity or len(event.seat_ids)
        if holds:
            writes.hincrby(state, "stock_holds", holds)
            writes.hincrby(state, "stock_held_tickets", tickets)
    return writes
