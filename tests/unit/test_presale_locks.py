"""Presale tiers in the engine: a seat or place of a category whose tiers a presale locks is
never held, offered or sold to a buyer not let into that presale, whatever the command and
whenever the lock arrives; a buyer let in gets it like any seat; and the line's figure
counts only what a fan in the line can get."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.commands import (
    Command,
    ExpireHolds,
    HoldBestAvailable,
    HoldGeneralAdmission,
    HoldSeats,
    LockTiers,
    OfferSeats,
    ReleaseHold,
    SellHold,
)
from engine.errors import ErrorCode
from engine.events import HoldRejected, SeatsHeld, SeatsOffered, TiersLocked, from_record, to_record
from engine.inventory import EventInventory
from engine.pricing import EventSetup, PriceTier
from engine.state import InventoryState, PresaleLock, SeatStatus
from tests.support.venues import grid_venue, setup_for

VENUE = grid_venue(sections=2, rows=3, seats_per_row=5, ga_capacity=6)
SETUP = setup_for(VENUE, buyer_limit=8, hold_ttl_seconds=30.0)
FRONT_SEATS = sorted(s.seat_id for s in VENUE.seats.values() if s.category == "A")
OTHER_SEATS = sorted(s.seat_id for s in VENUE.seats.values() if s.category != "A")
ZONE = 900
VIP = frozenset({"front"})
"""The presale of these tests unlocks the front tier (category A)."""
INSIDERS = {5, 6}
"""Buyers let into the presale: their commands carry VIP."""
PRESALE = LockTiers(1, ("front",), 1000.0, 2000.0)


def _locked_inventory(setup: EventSetup = SETUP) -> EventInventory:
    inventory = EventInventory(setup)
    assert inventory.decide(PRESALE, 900.0) == [TiersLocked(1, ("front",), 1000.0, 2000.0)]
    return inventory


def _rejection(events: list[object]) -> HoldRejected:
    [event] = events
    assert isinstance(event, HoldRejected), event
    return event


def test_a_locked_seat_chosen_by_id_is_refused_with_tier_locked() -> None:
    inventory = _locked_inventory()
    refused = _rejection(inventory.decide(HoldSeats("r1", "h1", 1, (FRONT_SEATS[0],)), 1.0))
    assert refused.code == ErrorCode.TIER_LOCKED.value == "tier_locked"
    assert inventory.seat_status(FRONT_SEATS[0]) is SeatStatus.AVAILABLE


def test_a_locked_tier_asked_for_by_best_available_is_refused() -> None:
    inventory = _locked_inventory()
    refused = _rejection(inventory.decide(HoldBestAvailable("r1", "h1", 1, 2, tier="front"), 1.0))
    assert refused.code == "tier_locked"


def test_best_available_without_a_tier_skips_locked_seats_for_outsiders() -> None:
    inventory = _locked_inventory()
    [held] = inventory.decide(HoldBestAvailable("r1", "h1", 1, 4), 1.0)
    assert isinstance(held, SeatsHeld)
    assert set(held.seat_ids) <= set(OTHER_SEATS)


def test_best_available_for_outsiders_is_sold_out_when_only_locked_seats_are_left() -> None:
    inventory = _locked_inventory()
    # Everything but the front seats goes to an insider; what is left is locked.
    for n, seat in enumerate(OTHER_SEATS):
        inventory.decide(HoldSeats(f"r{n}", f"h{n}", 100 + n, (seat,)), 1.0)
    refused = _rejection(inventory.decide(HoldBestAvailable("x", "hx", 1, 1), 1.0))
    assert refused.code == "sold_out"
    [held] = inventory.decide(HoldBestAvailable("y", "hy", 5, 1, unlocked_tiers=VIP), 1.0)
    assert isinstance(held, SeatsHeld) and held.seat_ids[0] in FRONT_SEATS


def test_a_buyer_let_into_the_presale_gets_locked_seats_every_way() -> None:
    inventory = _locked_inventory()
    [by_id] = inventory.decide(HoldSeats("r1", "h1", 5, (FRONT_SEATS[0],), VIP), 1.0)
    [by_tier] = inventory.decide(
        HoldBestAvailable("r2", "h2", 6, 2, tier="front", unlocked_tiers=VIP), 1.0)
    assert isinstance(by_id, SeatsHeld) and isinstance(by_tier, SeatsHeld)
    assert set(by_tier.seat_ids) <= set(FRONT_SEATS)


def test_a_locked_general_admission_zone_is_refused_to_outsiders() -> None:
    setup = SETUP
    inventory = EventInventory(setup)
    inventory.decide(LockTiers(2, ("floor",), 0.0, 10.0), 1.0)
    refused = _rejection(inventory.decide(HoldGeneralAdmission("r1", "h1", 1, ZONE, 2), 1.0))
    assert refused.code == "tier_locked"
    [held] = inventory.decide(
        HoldGeneralAdmission("r2", "h2", 5, ZONE, 2, frozenset({"floor"})), 1.0)
    assert isinstance(held, SeatsHeld) and held.quantity == 2


def test_an_offer_to_an_outsider_never_names_locked_seats() -> None:
    inventory = _locked_inventory()
    assert inventory.decide(OfferSeats("o1", "h1", 1, 2, 60.0, "front"), 1.0) == []
    [offered] = inventory.decide(OfferSeats("o2", "h2", 1, 2, 60.0), 1.0)
    assert isinstance(offered, SeatsOffered) and set(offered.seat_ids) <= set(OTHER_SEATS)
    [vip] = inventory.decide(OfferSeats("o3", "h3", 5, 2, 60.0, "front", VIP), 1.0)
    assert isinstance(vip, SeatsOffered) and set(vip.seat_ids) <= set(FRONT_SEATS)


def test_a_category_stays_open_while_one_of_its_tiers_is_not_locked() -> None:
    shared = EventSetup(7, VENUE, (*SETUP.price_tiers,
                                   PriceTier("front-public", "Front (public)", "A", 9500)),
                        buyer_limit=8)
    inventory = EventInventory(shared)
    inventory.decide(PRESALE, 1.0)
    [held] = inventory.decide(HoldSeats("r1", "h1", 1, (FRONT_SEATS[0],)), 1.0)
    assert isinstance(held, SeatsHeld)


def test_locking_again_changes_nothing_and_restore_keeps_the_locks() -> None:
    inventory = _locked_inventory()
    version = inventory.version
    assert inventory.decide(PRESALE, 950.0) == []
    assert inventory.version == version
    state = inventory.state()
    assert state.presales == (PresaleLock(1, ("front",), 1000.0, 2000.0),)
    restored = EventInventory.restore(SETUP, state)
    assert restored.state() == state
    assert restored.locked_tiers() == VIP
    refused = _rejection(restored.decide(HoldSeats("r1", "h1", 1, (FRONT_SEATS[0],)), 1.0))
    assert refused.code == "tier_locked"
    # As the store loads it: presales from their table, with the rest of the state.
    loaded = EventInventory.restore(SETUP, InventoryState(presales=state.presales))
    assert loaded.locked_tiers() == VIP


def test_a_sale_re_holds_the_buyers_own_seats_even_if_their_tier_was_locked_since() -> None:
    inventory = EventInventory(SETUP)
    [held] = inventory.decide(HoldSeats("r1", "h1", 1, (FRONT_SEATS[0],)), 1.0)
    assert isinstance(held, SeatsHeld)
    inventory.decide(PRESALE, 2.0)
    [sold] = inventory.decide(SellHold("h1", "o1", 1), 3.0)
    assert sold.seat_ids == (FRONT_SEATS[0],)


def test_the_line_counts_locked_tiers_only_while_their_presale_is_open() -> None:
    inventory = _locked_inventory()
    everything = len(VENUE.seats) + 6
    public = everything - len(FRONT_SEATS)
    assert inventory.tickets_available() == everything
    assert inventory.tickets_for_line(999.0) == public  # before the window
    assert inventory.tickets_for_line(1000.0) == everything  # open: its code holders queue
    assert inventory.tickets_for_line(2000.0) == public  # closed: the line is everyone's
    for n, seat in enumerate(OTHER_SEATS):
        inventory.decide(HoldSeats(f"r{n}", f"h{n}", 100 + n, (seat,)), 1.0)
    inventory.decide(HoldGeneralAdmission("g", "hg", 99, ZONE, 6), 1.0)
    assert inventory.tickets_for_line(2500.0) == 0, "public tiers gone: the line is sold out"
    assert inventory.tickets_available() == len(FRONT_SEATS)
    inventory.decide(ReleaseHold("h0", 100), 2.0)
    assert inventory.tickets_for_line(2500.0) == 1, "a hold that returns counts again"


def test_an_event_without_presales_counts_every_free_ticket_for_the_line() -> None:
    inventory = EventInventory(SETUP)
    assert inventory.tickets_for_line(0.0) == inventory.tickets_available()


steps = st.lists(
    st.tuples(
        st.sampled_from(["seats", "best", "best_tier", "ga", "offer", "release", "sell",
                         "expire", "lock", "lock_floor"]),
        st.integers(min_value=1, max_value=3),  # quantity
        st.integers(min_value=1, max_value=6),  # buyer: 5 and 6 are insiders
        st.sampled_from([None, "front", "standard", "floor"]),
        st.sampled_from(sorted(VENUE.seats)),
        st.floats(min_value=0, max_value=20),  # time passing before the step
    ),
    max_size=60,
)

UNLOCKS = frozenset({"front", "floor"})


def _command(i: int, step: tuple[str, int, int, str | None, int, float],
             holds: list[tuple[str, int]]) -> Command:
    kind, quantity, buyer, tier, seat, _ = step
    unlocked = UNLOCKS if buyer in INSIDERS else frozenset()
    best_tier = tier if tier != "floor" else None
    match kind:
        case "seats":
            return HoldSeats(f"r{i}", f"h{i}", buyer, tuple(
                sorted({seat, *(s for s in (seat + 1,) if s in VENUE.seats)})[:quantity]),
                unlocked)
        case "best":
            return HoldBestAvailable(f"r{i}", f"h{i}", buyer, quantity, unlocked_tiers=unlocked)
        case "best_tier":
            return HoldBestAvailable(f"r{i}", f"h{i}", buyer, quantity, tier=best_tier,
                                     unlocked_tiers=unlocked)
        case "ga":
            return HoldGeneralAdmission(f"r{i}", f"h{i}", buyer, ZONE, quantity, unlocked)
        case "offer":
            return OfferSeats(f"o{i}", f"h{i}", buyer, quantity, 30.0, best_tier, unlocked)
        case "lock":
            return LockTiers(1, ("front",), 0.0, 1e9)
        case "lock_floor":
            return LockTiers(2, ("floor",), 0.0, 1e9)
        case "release" if holds:
            hold_id, owner = holds[i % len(holds)]
            return ReleaseHold(hold_id, owner)
        case "sell" if holds:
            hold_id, owner = holds[i % len(holds)]
            return SellHold(hold_id, f"order-{i}", owner)
        case _:
            return ExpireHolds()


@settings(max_examples=200, deadline=None)
@given(steps)
def test_no_locked_seat_or_place_ever_goes_to_a_buyer_without_access(
    script: list[tuple[str, int, int, str | None, int, float]],
) -> None:
    inventory = EventInventory(SETUP)
    log = []
    now = 1000.0
    holds: list[tuple[str, int]] = []
    for i, step in enumerate(script):
        now += step[-1]
        command = _command(i, step, holds)
        locked_categories = {"A"} if "front" in inventory.locked_tiers() else set()
        if "floor" in inventory.locked_tiers():
            locked_categories.add("GA")
        try:
            events = inventory.decide(command, now)
        except Exception:  # refusals of release/sell are BookingErrors: nothing changed
            continue
        log.extend(to_record(event) for event in events)
        for event in events:
            if not isinstance(event, SeatsHeld | SeatsOffered):
                continue
            holds.append((event.hold_id, event.buyer_id))
            if event.buyer_id in INSIDERS:
                continue
            categories = {VENUE.seats[s].category for s in event.seat_ids}
            if event.zone_id is not None:
                categories.add("GA")
            assert not categories & locked_categories, \
                "a locked seat or place went to a buyer not let into its presale"
        if isinstance(command, HoldSeats) and command.buyer_id not in INSIDERS \
                and any(VENUE.seats[s].category in locked_categories for s in command.seat_ids):
            [event] = events
            if isinstance(event, HoldRejected) and event.code not in ("limit_exceeded",
                                                                       "invalid_request"):
                assert event.code == "tier_locked", "a locked seat by id says why"
    replayed = EventInventory(SETUP)
    for record in log:
        replayed.apply(from_record(record))
    assert replayed.state() == inventory.state(), "replaying the log rebuilds the locks too"
    assert EventInventory.restore(SETUP, inventory.state()).state() == inventory.state()


def test_a_lock_made_up_for_by_the_partition_comes_first_in_the_next_batch() -> None:
    from workers.booking_requests import BookingRequest
    from workers.decider import BatchDecider

    inventory = EventInventory(SETUP)
    decider = BatchDecider(lambda event_id: inventory if event_id == 7 else None)
    decider.decide([], 1.0)
    assert decider.inventory(7) is inventory
    decider.lock_later(7, PRESALE)
    hold = BookingRequest("7-1", 7, 1, "hold", {"seat_ids": [FRONT_SEATS[0]]}, 0.0)
    decision = decider.decide([hold], 2.0)
    events = decision.events_by_event[7]
    assert isinstance(events[0], TiersLocked)
    assert isinstance(events[1], HoldRejected) and events[1].code == "tier_locked"
    assert decider.locks_due == {}
    insider = BookingRequest("7-2", 7, 5, "hold", {"seat_ids": [FRONT_SEATS[0]],
                                                   "unlocked_tiers": ["front"]}, 0.0)
    [held] = decider.decide([insider], 3.0).events_by_event[7]
    assert isinstance(held, SeatsHeld)
