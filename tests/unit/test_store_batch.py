"""Planning a batch for the store: order-sensitive writes land in separate steps."""

from __future__ import annotations

from engine.events import (
    HoldExpired,
    HoldRejected,
    OrderRefunded,
    SeatsBlocked,
    SeatsHeld,
    SeatsSold,
    SeatsUnblocked,
    to_record,
)
from engine.store.batch import plan_batch, record_of

HELD = SeatsHeld("r1", "h1", 1, (5, 6), (100, 100), 200, 10.0, quantity=2)


def test_record_of_matches_the_engine_record_format() -> None:
    for event in (HELD, HoldRejected("r", "h", 1, "sold_out", "m"), HoldExpired("h1", 1, (5,)),
                  SeatsSold("h1", "o1", 1, (5, 6), 200), OrderRefunded("o1", 1, (5,)),
                  SeatsBlocked((1, 2)), SeatsUnblocked((1,)),
                  SeatsHeld("r", "g", 2, (), (30,) * 3, 90, 1.5, zone_id=9, quantity=3)):
        assert record_of(event) == to_record(event)


def test_independent_events_share_one_step() -> None:
    plan = plan_batch([HELD, SeatsHeld("r2", "h2", 2, (7,), (50,), 50, 10.0, quantity=1),
                       HoldRejected("r3", "h3", 3, "seats_taken", "m"), SeatsBlocked((9,))])
    assert len(plan.steps) == 1
    assert plan.changes == 3 and [e["version_offset"] for e in plan.log] == [1, 2, 2, 3]
    assert plan.buyer_deltas == {1: 2, 2: 1}


def test_a_seat_released_and_held_again_needs_two_steps() -> None:
    plan = plan_batch([HELD, HoldExpired("h1", 1, (5, 6), quantity=2),
                       SeatsHeld("r2", "h2", 2, (5,), (100,), 100, 20.0, quantity=1)])
    assert len(plan.steps) == 3
    assert plan.buyer_deltas == {2: 1}, "buyer 1 holds nothing at the end of the batch"


def test_general_admission_counts_are_netted_over_the_batch() -> None:
    plan = plan_batch([
        SeatsHeld("r1", "g1", 1, (), (30,) * 3, 90, 1.0, zone_id=9, quantity=3),
        SeatsSold("g1", "o1", 1, (), 90, zone_id=9, quantity=3),
        SeatsHeld("r2", "g2", 2, (), (30,) * 2, 60, 1.0, zone_id=9, quantity=2),
    ])
    assert plan.zone_deltas == [{"zone_id": 9, "held": 2, "sold": 3}]
    assert plan.steps[0].new_claims == [], "general admission claims no seats"
