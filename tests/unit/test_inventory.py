"""Examples of the seat engine's rules, each named after the behaviour a fan relies on."""

from __future__ import annotations

import pytest

from engine.commands import (
    BlockSeats,
    ExpireHolds,
    HoldBestAvailable,
    HoldGeneralAdmission,
    HoldSeats,
    RefundOrder,
    ReleaseHold,
    SellHold,
)
from engine.errors import BookingError, ErrorCode
from engine.events import HoldRejected, OrderRefunded, SeatsHeld, SeatsSold
from engine.inventory import EventInventory
from engine.state import SeatStatus
from tests.support.venues import grid_venue, setup_for


def make(**kwargs: int) -> EventInventory:
    return EventInventory(setup_for(grid_venue(**kwargs)))


def best(inventory: EventInventory, n: int, buyer: int = 1, **filters: object) -> SeatsHeld:
    key = f"h{len(inventory.state().holds)}-{buyer}-{n}-{inventory.version}"
    [event] = inventory.decide(HoldBestAvailable(key, key, buyer, n, **filters), now=0.0)  # type: ignore[arg-type]
    assert isinstance(event, SeatsHeld), event
    return event


def test_best_available_is_adjacent_in_the_best_row_near_the_middle() -> None:
    inventory = make(sections=1, rows=2, seats_per_row=8)
    held = best(inventory, 2)
    assert held.seat_ids == (4, 5)  # row A, seats 4-5 of 1..8
    assert held.prices_cents == (9000, 9000) and held.total_cents == 18000


def test_best_available_never_strands_a_single_seat_when_another_choice_exists() -> None:
    inventory = make(sections=1, rows=2, seats_per_row=4)
    best(inventory, 2)  # middle of row A: leaves one seat at each end? no: placement avoids it
    row_a = [inventory.seat_status(s) for s in (1, 2, 3, 4)]
    free = [i for i, s in enumerate(row_a) if s is SeatStatus.AVAILABLE]
    assert free in ([0, 1], [2, 3]), "two seats in a row of four must not leave two orphans"


def test_best_available_moves_to_the_next_row_rather_than_strand() -> None:
    inventory = make(sections=1, rows=2, seats_per_row=4)
    best(inventory, 2)
    held = best(inventory, 1)
    assert all(seat >= 5 for seat in held.seat_ids), "taking one of two free seats strands one"


def test_best_available_splits_only_when_no_row_has_the_block() -> None:
    inventory = make(sections=1, rows=2, seats_per_row=3, ga_capacity=0)
    best(inventory, 2)
    best(inventory, 2)
    held = best(inventory, 2)
    assert held.seat_ids == (3, 6), "one seat left in each row: split across rows"
    [event] = inventory.decide(HoldBestAvailable("x", "x", 9, 1), now=0.0)
    assert isinstance(event, HoldRejected) and event.code == "sold_out"


def test_filters_restrict_section_tier_and_price() -> None:
    inventory = make(sections=2, rows=2, seats_per_row=4)
    assert all(s > 8 for s in best(inventory, 2, section_id=2).seat_ids)
    held = best(inventory, 2, buyer=2, tier="standard")
    assert held.prices_cents == (5000, 5000)
    held = best(inventory, 1, buyer=3, max_price_cents=5000)
    assert held.prices_cents == (5000,)


def test_a_section_with_too_few_free_seats_is_sold_out_whatever_its_rows() -> None:
    """The sold-out shortcut answers as the full search does: same code, message, details."""
    inventory = make(sections=2, rows=2, seats_per_row=4)
    for buyer in range(1, 4):
        best(inventory, 2, buyer=buyer, section_id=1)  # leaves 2 seats, in different rows
    best(inventory, 1, buyer=4, section_id=1)  # one free seat left in section 1
    [event] = inventory.decide(HoldBestAvailable("x", "x", 9, 2, section_id=1), now=0.0)
    assert isinstance(event, HoldRejected) and event.code == "sold_out"
    assert event.message == "Not enough seats left that match this request."
    assert best(inventory, 1, buyer=5, section_id=1).seat_ids[0] <= 8


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (HoldBestAvailable("r", "h", 1, 0), "invalid_request"),
        (HoldBestAvailable("r", "h", 1, 2, section_id=99), "invalid_request"),
        (HoldBestAvailable("r", "h", 1, 2, tier="nope"), "invalid_request"),
        (HoldBestAvailable("r", "h", 1, 2, max_price_cents=10), "sold_out"),
        (HoldBestAvailable("r", "h", 1, 7), "limit_exceeded"),
        (HoldSeats("r", "h", 1, (1, 1)), "invalid_request"),
        (HoldSeats("r", "h", 1, (99999,)), "invalid_request"),
        (HoldGeneralAdmission("r", "h", 1, 900, 11), "limit_exceeded"),
        (HoldGeneralAdmission("r", "h", 1, 901, 1), "invalid_request"),
    ],
)
def test_rejections_carry_stable_codes(command: object, code: str) -> None:
    [event] = make().decide(command, now=0.0)  # type: ignore[arg-type]
    assert isinstance(event, HoldRejected) and event.code == code


def test_seats_taken_names_the_taken_seats() -> None:
    inventory = make()
    inventory.decide(HoldSeats("a", "a", 1, (1, 2)), now=0.0)
    [event] = inventory.decide(HoldSeats("b", "b", 2, (2, 3)), now=0.0)
    assert isinstance(event, HoldRejected) and event.code == "seats_taken"


def test_general_admission_stops_at_capacity() -> None:
    inventory = make(ga_capacity=5)
    assert isinstance(
        inventory.decide(HoldGeneralAdmission("a", "a", 1, 900, 4), 0.0)[0], SeatsHeld
    )
    [event] = inventory.decide(HoldGeneralAdmission("b", "b", 2, 900, 2), 0.0)
    assert isinstance(event, HoldRejected) and event.code == "sold_out"
    assert inventory.ga_available(900) == 1


def test_hold_expires_at_its_time_and_seats_return() -> None:
    inventory = make()
    held = best(inventory, 2)
    assert inventory.decide(ExpireHolds(), now=held.expires_at - 0.001) == []
    [expired] = inventory.decide(ExpireHolds(), now=held.expires_at)
    assert expired.seat_ids == held.seat_ids  # type: ignore[union-attr]
    assert all(inventory.seat_status(s) is SeatStatus.AVAILABLE for s in held.seat_ids)
    assert inventory.next_expiry() is None


def test_sell_release_refund_lifecycle() -> None:
    inventory = make()
    held = best(inventory, 2)
    with pytest.raises(BookingError) as not_yours:
        inventory.decide(ReleaseHold(held.hold_id, buyer_id=2), now=1.0)
    assert not_yours.value.code is ErrorCode.HOLD_NOT_FOUND
    [sold] = inventory.decide(SellHold(held.hold_id, "o1", 1), now=1.0)
    assert isinstance(sold, SeatsSold)
    assert all(inventory.seat_status(s) is SeatStatus.SOLD for s in held.seat_ids)
    assert inventory.decide(ExpireHolds(), now=held.expires_at + 1) == [], "sold seats never expire"
    [refunded] = inventory.decide(RefundOrder("o1"), now=2.0)
    assert isinstance(refunded, OrderRefunded)
    assert inventory.buyer_tickets(1) == 0


def test_selling_an_expired_hold_is_refused_with_hold_expired() -> None:
    inventory = make()
    held = best(inventory, 1)
    with pytest.raises(BookingError) as error:
        inventory.decide(SellHold(held.hold_id, "o1", 1), now=held.expires_at)
    assert error.value.code is ErrorCode.HOLD_EXPIRED


def test_blocked_seats_are_not_offered() -> None:
    inventory = make(sections=1, rows=1, seats_per_row=4, ga_capacity=0)
    inventory.decide(BlockSeats((1, 2, 3)), now=0.0)
    assert best(inventory, 1).seat_ids == (4,)
    with pytest.raises(BookingError) as error:
        inventory.decide(BlockSeats((4,)), now=0.0)
    assert error.value.code is ErrorCode.SEATS_TAKEN


def test_released_seats_are_offered_again_from_the_front() -> None:
    inventory = make(sections=1, rows=3, seats_per_row=4, ga_capacity=0)
    first = best(inventory, 4)
    best(inventory, 4, buyer=2)
    inventory.decide(ReleaseHold(first.hold_id, 1), now=0.0)
    assert best(inventory, 4, buyer=3).seat_ids == first.seat_ids
