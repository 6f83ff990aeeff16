"""Waiting-list offers in the engine: an offer is a hold on seats that were free, decided in
order with bookings, so two offers (or an offer and a hold) never name one seat."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.commands import (
    Command,
    ExpireHolds,
    HoldBestAvailable,
    OfferSeats,
    ReleaseHold,
    SellHold,
)
from engine.events import HoldExpired, SeatsHeld, SeatsOffered
from engine.inventory import EventInventory
from engine.state import SeatStatus
from tests.support.venues import grid_venue, setup_for

OFFER_TTL_SECONDS = 30.0

steps = st.lists(
    st.tuples(
        st.sampled_from(["hold", "offer", "release", "sell", "expire"]),
        st.integers(min_value=1, max_value=4),  # quantity
        st.integers(min_value=1, max_value=8),  # buyer
        st.sampled_from([None, "front", "standard"]),
        st.floats(min_value=0, max_value=40),  # time passing before the step
    ),
    max_size=60,
)


def _command(i: int, kind: str, quantity: int, buyer: int, tier: str | None,
             holds: list[tuple[str, int]]) -> Command:
    match kind:
        case "hold":
            return HoldBestAvailable(f"r{i}", f"h{i}", buyer, quantity, tier=tier)
        case "offer":
            return OfferSeats(f"o{i}", f"h{i}", buyer, quantity, OFFER_TTL_SECONDS, tier)
        case "release" if holds:
            hold_id, owner = holds[i % len(holds)]
            return ReleaseHold(hold_id, owner)
        case "sell" if holds:
            hold_id, owner = holds[i % len(holds)]
            return SellHold(hold_id, f"order-{i}", owner)
        case _:
            return ExpireHolds()


@settings(max_examples=150, deadline=None)
@given(steps)
def test_an_offer_takes_only_free_seats_and_no_seat_is_in_two_holds(
    script: list[tuple[str, int, int, str | None, float]],
) -> None:
    inventory = EventInventory(setup_for(grid_venue(), buyer_limit=6, hold_ttl_seconds=20.0))
    now = 1000.0
    holds: list[tuple[str, int]] = []
    for i, (kind, quantity, buyer, tier, wait) in enumerate(script):
        now += wait
        command = _command(i, kind, quantity, buyer, tier, holds)
        before = inventory.seat_statuses()
        try:
            events = inventory.decide(command, now)
        except Exception:  # refusals of release/sell are BookingErrors: nothing changed
            continue
        for event in events:
            if isinstance(event, SeatsOffered):
                assert all(before[s] is SeatStatus.AVAILABLE for s in event.seat_ids), \
                    "an offer names only seats that were free"
                assert abs(event.expires_at - (now + OFFER_TTL_SECONDS)) < 1e-5
            if isinstance(event, SeatsHeld | SeatsOffered):
                holds.append((event.hold_id, event.buyer_id))
            if isinstance(event, HoldExpired):
                assert event.hold_id in {h for h, _ in holds}
        active = [inventory.hold(h) for h, _ in holds]
        named = [s for hold in active if hold is not None for s in hold.seat_ids]
        assert len(named) == len(set(named)), "no seat is in two holds or offers at once"
        for seat in named:
            assert inventory.seat_status(seat) is SeatStatus.HELD


def test_an_offer_without_enough_free_seats_offers_nothing() -> None:
    inventory = EventInventory(setup_for(grid_venue(sections=1, rows=1, seats_per_row=2)))
    inventory.decide(HoldBestAvailable("r1", "h1", 1, 2), 0.0)
    assert inventory.decide(OfferSeats("o1", "h2", 2, 1, OFFER_TTL_SECONDS), 1.0) == []
    inventory.decide(ReleaseHold("h1", 1), 2.0)
    [offered] = inventory.decide(OfferSeats("o2", "h3", 2, 2, OFFER_TTL_SECONDS), 3.0)
    assert isinstance(offered, SeatsOffered) and len(offered.seat_ids) == 2
    assert inventory.decide(OfferSeats("o3", "h4", 3, 1, OFFER_TTL_SECONDS), 4.0) == [], \
        "the seats back are offered once"
    [expired] = inventory.decide(ExpireHolds(), 3.0 + OFFER_TTL_SECONDS)
    assert isinstance(expired, HoldExpired) and expired.hold_id == "h3"
