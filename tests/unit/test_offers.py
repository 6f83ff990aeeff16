"""Waiting-list offers in the engine: an offer stands until seats come back, and is served
(a hold for the fan) in the very command that frees them, in list order, before any later
command can take the seats. No seat is ever in two holds or offers, a withdrawn offer is
never served, and standing offers survive `restore(state())` like the rest of the state."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.commands import (
    BlockSeats,
    Command,
    ExpireHolds,
    HoldBestAvailable,
    HoldSeats,
    OfferSeats,
    RefundOrder,
    ReleaseHold,
    SellHold,
    UnblockSeats,
    WithdrawOffer,
)
from engine.errors import BookingError
from engine.events import (
    Event,
    HoldExpired,
    HoldRejected,
    SeatsHeld,
    SeatsOffered,
    SeatsSold,
    StandingOfferPlaced,
    StandingOfferWithdrawn,
    may_serve_standing_offers,
)
from engine.inventory import EventInventory
from engine.pricing import EventSetup
from engine.state import SeatStatus, StandingOfferRecord
from tests.support.venues import grid_venue, setup_for

OFFER_TTL_SECONDS = 30.0
HOLD_TTL_SECONDS = 20.0
BUYER_LIMIT = 6
LIST_FAN = 100
"""List fans are buyers 100 + their place: one offer each, apart from the booking fans."""


def _setup() -> EventSetup:
    # 2 sections x 2 rows x 3 seats: row A is tier "front" (A), row B "standard" (B).
    return setup_for(grid_venue(sections=2, rows=2, seats_per_row=3, ga_capacity=0),
                     buyer_limit=BUYER_LIMIT, hold_ttl_seconds=HOLD_TTL_SECONDS)


def _offer(place: int, quantity: int, tier: str | None = None) -> OfferSeats:
    return OfferSeats(f"o{place}", f"oh{place}", LIST_FAN + place, quantity, OFFER_TTL_SECONDS,
                      tier, list_order=place)


def _categories(inventory: EventInventory, tier: str | None) -> frozenset[str]:
    tiers = inventory.setup.price_tiers
    return frozenset(t.category for t in tiers if tier is None or t.code == tier)


def _free(inventory: EventInventory, categories: frozenset[str]) -> int:
    seats = inventory.setup.venue.seats
    return sum(1 for seat_id, status in inventory.seat_statuses().items()
               if status is SeatStatus.AVAILABLE and seats[seat_id].category in categories)


def _waits_for_limit(inventory: EventInventory, offer: StandingOfferRecord) -> bool:
    return inventory.buyer_tickets(offer.buyer_id) + offer.quantity > BUYER_LIMIT


def _assert_nothing_servable_stands(inventory: EventInventory) -> None:
    """At rest, no standing offer could be served under the list-order rule: each one not
    waiting for its buyer limit finds too few seats among the categories no earlier waiting
    offer may take."""
    blocked: set[str] = set()
    for offer in inventory.standing_offers():
        categories = _categories(inventory, offer.tier)
        if _waits_for_limit(inventory, offer):
            continue
        assert _free(inventory, categories - blocked) < offer.quantity, \
            f"standing offer {offer.offer_id} could be served but was not"
        blocked |= categories


@dataclass
class Run:
    """A scripted run with the invariants checked after every command."""

    inventory: EventInventory = field(default_factory=lambda: EventInventory(_setup()))
    shadow: EventInventory = field(default_factory=lambda: EventInventory(_setup()))
    """Rebuilt from the emitted events only: what persistence replays."""
    holds: list[tuple[str, int]] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)
    withdrawn: set[str] = field(default_factory=set)

    def decide(self, command: Command, now: float) -> list[Event]:
        inventory = self.inventory
        restored = EventInventory.restore(inventory.setup, inventory.state())
        standing_before = {o.offer_id: o for o in inventory.standing_offers()}
        try:
            events = inventory.decide(command, now)
        except BookingError:
            try:
                restored.decide(command, now)
            except BookingError:
                return []
            raise AssertionError("a restored inventory decided differently") from None
        assert restored.decide(command, now) == events, \
            "an inventory restored from state() decides exactly as the original"
        freed = False
        served_here: list[SeatsOffered] = []
        for event in events:
            if isinstance(event, SeatsOffered):
                assert event.request_id not in self.withdrawn, "a withdrawn offer is never served"
                own = isinstance(command, OfferSeats) and command.offer_id == event.request_id
                assert freed or own, "an offer is served only in a command that frees seats"
                for seat in event.seat_ids:
                    assert self.shadow.seat_status(seat) is SeatStatus.AVAILABLE, \
                        "an offer names only seats that were free at that moment"
                assert abs(event.expires_at - (now + OFFER_TTL_SECONDS)) < 1e-5
                served_here.append(event)
            freed = freed or may_serve_standing_offers(event)
            self.shadow.apply(event)
            match event:
                case SeatsHeld() | SeatsOffered():
                    self.holds.append((event.hold_id, event.buyer_id))
                case SeatsSold():
                    self.orders.append(event.order_id)
                case StandingOfferWithdrawn():
                    self.withdrawn.add(event.request_id)
                case StandingOfferPlaced():
                    assert event.request_id not in standing_before
                    standing_before[event.request_id] = StandingOfferRecord(
                        event.request_id, event.hold_id, event.buyer_id, event.quantity,
                        event.ttl_seconds, event.tier, event.list_order)
                case _:
                    pass
        self._check_order(served_here, standing_before)
        self._check_state()
        return events

    def _check_order(self, served: list[SeatsOffered],
                     standing_before: dict[str, StandingOfferRecord]) -> None:
        """No offer got a seat an earlier offer that still stands may take (unless that one
        waits for its buyer limit): seat by seat, list order."""
        inventory = self.inventory
        seats = inventory.setup.venue.seats
        for offered in served:
            mine = standing_before[offered.request_id]
            got = {seats[seat].category for seat in offered.seat_ids}
            for still in inventory.standing_offers():
                if still.order_key < mine.order_key and not _waits_for_limit(inventory, still):
                    assert _categories(inventory, still.tier).isdisjoint(got), \
                        f"{mine.offer_id} was served ahead of {still.offer_id}"

    def _check_state(self) -> None:
        inventory = self.inventory
        active = [inventory.hold(h) for h, _ in self.holds]
        named = [s for hold in active if hold is not None for s in hold.seat_ids]
        assert len(named) == len(set(named)), "no seat is in two holds or offers at once"
        for seat in named:
            assert inventory.seat_status(seat) is SeatStatus.HELD
        assert self.shadow.state() == inventory.state(), "the events rebuild the state"
        restored = EventInventory.restore(inventory.setup, inventory.state())
        assert restored.state() == inventory.state(), "standing offers round-trip"
        for offer in inventory.standing_offers():
            assert offer.offer_id not in self.withdrawn
            assert inventory.hold(offer.hold_id) is None
        _assert_nothing_servable_stands(inventory)


steps = st.lists(
    st.tuples(
        st.sampled_from(["hold", "hold", "hold", "hold", "offer", "offer", "offer", "release",
                         "release", "sell", "refund", "withdraw", "block", "unblock",
                         "expire"]),
        st.integers(min_value=1, max_value=4),  # quantity
        st.integers(min_value=1, max_value=6),  # buyer
        st.sampled_from([None, "front", "standard"]),
        st.floats(min_value=0, max_value=4),  # time passing before the step
        st.integers(min_value=0, max_value=1000),  # which hold / offer / seat
    ),
    min_size=5, max_size=60,
)


def _command(i: int, step: tuple[str, int, int, str | None, float, int], run: Run) -> Command:
    kind, quantity, buyer, tier, _, pick = step
    standing = run.inventory.standing_offers()
    match kind:
        case "hold":
            return HoldBestAvailable(f"r{i}", f"h{i}", buyer, quantity, tier=tier)
        case "offer":
            # Places are given out of order sometimes: the list order is the place, not
            # the order in which the requests arrive.
            return _offer(i * 2 + (pick % 3), quantity, tier)
        case "release" if run.holds:
            hold_id, owner = run.holds[pick % len(run.holds)]
            return ReleaseHold(hold_id, owner)
        case "sell" if run.holds:
            hold_id, owner = run.holds[pick % len(run.holds)]
            return SellHold(hold_id, f"order-{i}", owner)
        case "refund" if run.orders:
            return RefundOrder(run.orders[pick % len(run.orders)])
        case "withdraw" if standing or run.holds:
            if standing and pick % 2 == 0:
                offer = standing[pick % len(standing)]
                return WithdrawOffer(offer.offer_id, offer.hold_id, offer.buyer_id)
            hold_id, owner = run.holds[pick % len(run.holds)]  # served already, maybe
            return WithdrawOffer(hold_id.replace("oh", "o"), hold_id, owner)
        case "block":
            return BlockSeats((pick % 12 + 1,))
        case "unblock":
            return UnblockSeats((pick % 12 + 1,))
        case _:
            return ExpireHolds()


@settings(max_examples=200, deadline=None)
@given(steps)
def test_standing_offers_are_served_in_list_order_in_the_command_that_frees_seats(
    script: list[tuple[str, int, int, str | None, float, int]],
) -> None:
    run = Run()
    now = 1000.0
    for i, step in enumerate(script):
        now += step[4]
        run.decide(_command(i, step, run), now)


def _sold_out() -> tuple[Run, float]:
    run = Run()
    for buyer, row_seats in enumerate(((1, 2, 3), (4, 5, 6), (7, 8, 9), (10, 11, 12)), 1):
        [held] = run.decide(HoldSeats(f"r{buyer}", f"h{buyer}", buyer, row_seats), 0.0)
        assert isinstance(held, SeatsHeld)
    return run, 1.0


def test_an_offer_without_enough_free_seats_stands_and_takes_the_first_seats_back() -> None:
    run, now = _sold_out()
    [stood] = run.decide(_offer(1, 2), now)
    assert isinstance(stood, StandingOfferPlaced)
    assert run.decide(_offer(1, 2), now) == [], "an offer request decided twice stands once"
    released = run.decide(ReleaseHold("h1", 1), now)
    assert [type(e) for e in released][0].__name__ == "HoldReleased"
    offered = released[-1]
    assert isinstance(offered, SeatsOffered) and offered.request_id == "o1"
    assert set(offered.seat_ids) <= {1, 2, 3}
    [competing] = run.decide(HoldSeats("r9", "h9", 9, offered.seat_ids), now)
    assert isinstance(competing, HoldRejected), "the seats were the list fan's already"


def test_offers_are_served_in_list_order_whatever_order_their_requests_came_in() -> None:
    run, now = _sold_out()
    run.decide(_offer(5, 2), now)
    run.decide(_offer(3, 2), now)  # earlier in the list, later on the queue
    events = run.decide(ReleaseHold("h2", 2), now)
    assert [e.request_id for e in events if isinstance(e, SeatsOffered)] == ["o3"], \
        "three seats back: two for the earlier place, one left is too few for the next"
    events = run.decide(ReleaseHold("h3", 3), now)
    assert [e.request_id for e in events if isinstance(e, SeatsOffered)] == ["o5"]


def test_a_later_offer_for_another_tier_is_not_held_back() -> None:
    run, now = _sold_out()
    run.decide(_offer(1, 3, "front"), now)   # row A seats: 1-3 and 7-9
    run.decide(_offer(2, 2, "standard"), now)  # row B seats: 4-6 and 10-12
    run.decide(_offer(3, 2), now)  # any tier
    events = run.decide(ReleaseHold("h2", 2), now)  # standard seats 4-6 come back
    assert [e.request_id for e in events if isinstance(e, SeatsOffered)] == ["o2"], \
        "the front fan cannot use them; the standard fan can; one is too few for the third"
    events = run.decide(ReleaseHold("h1", 1), now)  # front seats 1-3
    offered = [e for e in events if isinstance(e, SeatsOffered)]
    assert [e.request_id for e in offered] == ["o1"], "the any-tier fan waits behind front"
    events = run.decide(ReleaseHold("h4", 4), now)  # standard seats 10-12
    [third] = [e for e in events if isinstance(e, SeatsOffered)]
    assert third.request_id == "o3" and len(third.seat_ids) == 2
    assert run.inventory.standing_offers() == ()


def test_an_any_tier_offer_behind_a_front_offer_may_take_standard_seats() -> None:
    run, now = _sold_out()
    run.decide(_offer(1, 3, "front"), now)
    run.decide(_offer(2, 3), now)
    run.decide(_offer(3, 3, "standard"), now)
    events = run.decide(ReleaseHold("h2", 2), now)  # standard seats back: none is front's
    [offered] = [e for e in events if isinstance(e, SeatsOffered)]
    assert offered.request_id == "o2" and set(offered.seat_ids) == {4, 5, 6}, \
        "seat by seat: the earliest offer that may take a standard seat gets it"


def test_an_offer_with_no_tier_holds_back_every_later_offer() -> None:
    run, now = _sold_out()
    run.decide(_offer(1, 4), now)
    run.decide(_offer(2, 1, "standard"), now)
    events = run.decide(ReleaseHold("h2", 2), now)  # three standard seats back
    assert not [e for e in events if isinstance(e, SeatsOffered)], \
        "too few for the first fan, who may take standard seats too: the second waits"
    events = run.decide(ReleaseHold("h4", 4), now)  # three more
    assert [e.request_id for e in events if isinstance(e, SeatsOffered)] == ["o1", "o2"]


def test_a_lapsed_offer_passes_to_the_next_in_the_same_command() -> None:
    run, now = _sold_out()
    run.decide(_offer(1, 3), now)
    run.decide(_offer(2, 3), now)
    [released, first] = run.decide(ReleaseHold("h1", 1), now)
    assert isinstance(first, SeatsOffered) and first.request_id == "o1"
    later = now + OFFER_TTL_SECONDS + HOLD_TTL_SECONDS
    events = run.decide(ExpireHolds(), later)
    expired = [e for e in events if isinstance(e, HoldExpired)]
    assert "oh1" in {e.hold_id for e in expired}
    assert [e.request_id for e in events if isinstance(e, SeatsOffered)] == ["o2"], \
        "the lapsed offer's seats go to the next fan at once"


def test_a_withdrawn_offer_is_never_served() -> None:
    run, now = _sold_out()
    run.decide(_offer(1, 2), now)
    run.decide(_offer(2, 2), now)
    [withdrawn] = run.decide(WithdrawOffer("o1", "oh1", LIST_FAN + 1), now)
    assert isinstance(withdrawn, StandingOfferWithdrawn)
    assert run.decide(WithdrawOffer("o1", "oh1", LIST_FAN + 1), now) == [], "idempotent"
    events = run.decide(ReleaseHold("h1", 1), now)
    assert [e.request_id for e in events if isinstance(e, SeatsOffered)] == ["o2"]


def test_withdrawing_an_offer_already_served_gives_its_seats_to_the_next() -> None:
    run, now = _sold_out()
    run.decide(_offer(1, 3), now)
    run.decide(_offer(2, 3), now)
    run.decide(ReleaseHold("h1", 1), now)  # served to o1
    events = run.decide(WithdrawOffer("o1", "oh1", LIST_FAN + 1), now)
    assert type(events[0]).__name__ == "HoldReleased"
    assert [e.request_id for e in events if isinstance(e, SeatsOffered)] == ["o2"]


def test_standing_offers_survive_restore() -> None:
    run, now = _sold_out()
    run.decide(_offer(2, 2, "standard"), now)
    run.decide(_offer(1, 2), now)
    restored = EventInventory.restore(run.inventory.setup, run.inventory.state())
    assert [o.offer_id for o in restored.standing_offers()] == ["o1", "o2"]
    events = restored.decide(ReleaseHold("h2", 2), now)  # standard seats: o1 first (any tier)
    assert [e.request_id for e in events if isinstance(e, SeatsOffered)] == ["o1"]
