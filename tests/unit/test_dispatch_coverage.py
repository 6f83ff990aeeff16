"""Every command, event and request kind reaches every dispatch over it.

mypy proves each `match` exhaustive (they end in `assert_never`); these tests guard the
same without mypy: one request of each kind goes through the decider, and the events that
come out, one of each type, go through every pure dispatch over events. A new member of
`Command`, `Event`, `EventType` or `RequestKind` fails here until it is handled.
"""

from __future__ import annotations

from typing import get_args

from engine.commands import Command
from engine.events import Event, EventType, from_record, places_of, to_record
from engine.inventory import EventInventory
from engine.store.batch import plan_batch
from loadtests.audit_replay import replay_log
from tests.support.venues import grid_venue, setup_for
from workers.booking_requests import BookingRequest, RequestKind
from workers.decider import BatchDecider, BatchDecision

HOLD_TTL_SECONDS = 60.0


def _request(seq: int, kind: RequestKind, buyer_id: int = 1, **params: object) -> BookingRequest:
    return BookingRequest(f"7-{seq}", 7, buyer_id, kind.value, dict(params), 0.0)


def _one_of_each() -> tuple[list[BookingRequest], list[Event], EventInventory]:
    """Requests of every kind, decided in three batches; the last expires a hold."""
    inventory = EventInventory(setup_for(grid_venue(), hold_ttl_seconds=HOLD_TTL_SECONDS))
    decider = BatchDecider(lambda event_id: inventory if event_id == 7 else None)
    hold, release, sell = RequestKind.HOLD, RequestKind.RELEASE, RequestKind.SELL
    batches = [
        [_request(1, hold, seat_ids=[1, 2]),
         _request(2, hold, buyer_id=2, seat_ids=[1]),  # taken: rejected
         _request(3, hold, buyer_id=3, zone_id=900, quantity=2),
         _request(4, hold, buyer_id=4, quantity=2),
         _request(5, RequestKind.BLOCK, seat_ids=[30])],
        [_request(6, sell, hold_id="7-1", order_id="o1", seat_ids=[1, 2]),
         _request(7, release, buyer_id=3, hold_id="7-3"),
         _request(8, RequestKind.REFUND, order_id="o1"),
         _request(9, RequestKind.UNBLOCK, seat_ids=[30]),
         _request(10, RequestKind.OFFER, buyer_id=5, quantity=2, ttl_seconds=HOLD_TTL_SECONDS),
         _request(11, RequestKind.LOCK_TIERS, presale_id=1, tier_codes=["front"],
                  starts_at=0.0, ends_at=HOLD_TTL_SECONDS)],
        [],  # after the TTL: the best-available hold of buyer 4 expires
    ]
    requests: list[BookingRequest] = []
    events: list[Event] = []
    for now, batch in zip((1.0, 2.0, 3.0 + HOLD_TTL_SECONDS), batches, strict=True):
        decision = decider.decide(batch, now)
        requests += batch
        events += decision.events_by_event.get(7, [])
    return requests, events, inventory


def test_every_request_kind_becomes_a_command_and_every_command_type_is_asked_for() -> None:
    requests, _, _ = _one_of_each()
    assert {RequestKind(r.kind) for r in requests} == set(RequestKind)
    commands = {type(r.to_command()) for r in requests}
    expiry_only = {c for c in get_args(Command) if c.__name__ == "ExpireHolds"}
    assert commands | expiry_only == set(get_args(Command))


def test_the_decider_emits_every_event_type() -> None:
    _, events, _ = _one_of_each()
    assert {type(e) for e in events} == set(get_args(Event))


def test_every_event_type_has_a_record_type() -> None:
    assert {t.value for t in EventType} == {cls.__name__ for cls in get_args(Event)}


def test_every_event_type_passes_every_dispatch() -> None:
    _, events, inventory = _one_of_each()
    replayed = EventInventory(inventory.setup)
    for event in events:
        replayed.apply(from_record(to_record(event)))
    assert replayed.state() == inventory.state()

    plan = plan_batch(events)
    assert [row["type"] for row in plan.log] == [type(e).__name__ for e in events]

    BatchDecision().add_events(7, events)
    places = [places_of(e) for e in events]
    assert {1, 2, 30} <= {seat for seat_ids, _ in places for seat in seat_ids}
    assert {zone for _, zone in places if zone is not None} == {900}

    audit = replay_log((seq, type(e).__name__, to_record(e)) for seq, e in enumerate(events))
    assert audit.anomalies == []
