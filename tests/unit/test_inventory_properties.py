"""Property tests of the seat inventory: any sequence of commands keeps every invariant.

Each check names the invariant it protects (see DESIGN.md, "Invariants").
"""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine.commands import (
    BlockSeats,
    ExpireHolds,
    HoldBestAvailable,
    HoldGeneralAdmission,
    HoldSeats,
    RefundOrder,
    ReleaseHold,
    SellHold,
    UnblockSeats,
)
from engine.errors import BookingError
from engine.events import HoldExpired, SeatsHeld, from_record, to_record
from engine.inventory import EventInventory
from engine.state import SeatStatus
from tests.support.venues import grid_venue, setup_for

VENUE = grid_venue(sections=2, rows=3, seats_per_row=5, ga_capacity=6)
SETUP = setup_for(VENUE, buyer_limit=5, hold_ttl_seconds=30.0)
SEAT_IDS = sorted(VENUE.seats)
BUYERS = st.integers(min_value=1, max_value=4)


class InventoryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.inventory = EventInventory(SETUP)
        self.log: list[dict[str, object]] = []
        self.now = 1000.0
        self.counter = 0

    def _next_id(self, kind: str) -> str:
        self.counter += 1
        return f"{kind}-{self.counter:05d}"

    def _run(self, command: object) -> list[object]:
        try:
            events = self.inventory.decide(command, self.now)  # type: ignore[arg-type]
        except BookingError:
            return []
        self.log.extend(to_record(event) for event in events)
        return list(events)

    @rule(buyer=BUYERS, seats=st.lists(st.sampled_from(SEAT_IDS), min_size=1, max_size=4))
    def hold_seats(self, buyer: int, seats: list[int]) -> None:
        hold_id = self._next_id("hold")
        before = {seat: self.inventory.seat_status(seat) for seat in seats}
        events = self._run(HoldSeats(hold_id, hold_id, buyer, tuple(seats)))
        if isinstance(events[0], SeatsHeld):
            assert all(status is SeatStatus.AVAILABLE for status in before.values()), (
                "never held twice: a held or sold seat was handed out again"
            )

    @rule(
        buyer=BUYERS,
        quantity=st.integers(1, 6),
        section=st.sampled_from([None, 1, 2]),
        tier=st.sampled_from([None, "front", "standard"]),
        max_price=st.sampled_from([None, 5000, 9000]),
        split=st.booleans(),
    )
    def hold_best(
        self,
        buyer: int,
        quantity: int,
        section: int | None,
        tier: str | None,
        max_price: int | None,
        split: bool,
    ) -> None:
        hold_id = self._next_id("hold")
        events = self._run(
            HoldBestAvailable(hold_id, hold_id, buyer, quantity, section, tier, max_price, split)
        )
        held = events[0]
        if isinstance(held, SeatsHeld):
            assert len(held.seat_ids) == quantity
            for seat_id in held.seat_ids:
                seat = VENUE.seats[seat_id]
                assert section is None or seat.section_id == section, "section filter honoured"
                if max_price is not None:
                    assert max(held.prices_cents) <= max_price, "max price honoured"
            if not split:
                seats = [VENUE.seats[seat_id] for seat_id in held.seat_ids]
                rows = {(seat.section_id, seat.row_label) for seat in seats}
                assert len(rows) == 1, "split_ok false: the seats share one row"
                numbers = sorted(int(seat.label) for seat in seats)
                assert numbers == list(range(numbers[0], numbers[0] + quantity)), (
                    "split_ok false: the seats sit side by side"
                )

    @rule(buyer=BUYERS, quantity=st.integers(1, 4))
    def hold_ga(self, buyer: int, quantity: int) -> None:
        hold_id = self._next_id("hold")
        self._run(HoldGeneralAdmission(hold_id, hold_id, buyer, 900, quantity))

    @precondition(lambda self: bool(self.inventory.state().holds))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        hold = data.draw(st.sampled_from(self.inventory.state().holds))
        self._run(ReleaseHold(hold.hold_id, hold.buyer_id))

    @precondition(lambda self: bool(self.inventory.state().holds))
    @rule(data=st.data())
    def sell(self, data: st.DataObject) -> None:
        hold = data.draw(st.sampled_from(self.inventory.state().holds))
        self._run(SellHold(hold.hold_id, self._next_id("order"), hold.buyer_id))

    @precondition(lambda self: bool(self.inventory.state().sales))
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        sale = data.draw(st.sampled_from(self.inventory.state().sales))
        self._run(RefundOrder(sale.order_id))

    @rule(seats=st.lists(st.sampled_from(SEAT_IDS), min_size=1, max_size=3, unique=True))
    def block(self, seats: list[int]) -> None:
        self._run(BlockSeats(tuple(seats)))

    @precondition(lambda self: bool(self.inventory.state().blocked))
    @rule(data=st.data())
    def unblock(self, data: st.DataObject) -> None:
        blocked = self.inventory.state().blocked
        seats = data.draw(st.lists(st.sampled_from(blocked), min_size=1, unique=True))
        self._run(UnblockSeats(tuple(seats)))

    @rule(seconds=st.floats(min_value=0.0, max_value=40.0))
    def time_passes_and_holds_expire(self, seconds: float) -> None:
        self.now += seconds
        due = {h.hold_id for h in self.inventory.state().holds if h.expires_at <= self.now}
        events = self._run(ExpireHolds())
        assert all(isinstance(e, HoldExpired) for e in events)
        assert {e.hold_id for e in events} == due, "expiry returns exactly the expired holds"  # type: ignore[attr-defined]
        for event in events:
            for seat_id in event.seat_ids:  # type: ignore[attr-defined]
                assert self.inventory.seat_status(seat_id) is SeatStatus.AVAILABLE, (
                    "expired seats return to available"
                )

    @invariant()
    def each_seat_in_exactly_one_state(self) -> None:
        state = self.inventory.state()
        claims = Counter[int]()
        for hold in state.holds:
            claims.update(hold.seat_ids)
        for sale in state.sales:
            claims.update(sale.seat_ids)
        claims.update(state.blocked)
        assert all(count == 1 for count in claims.values()), "a seat is held or sold twice"
        held = {s for h in state.holds for s in h.seat_ids}
        sold = {s for o in state.sales for s in o.seat_ids}
        for seat_id in SEAT_IDS:
            status = self.inventory.seat_status(seat_id)
            expected = (
                SeatStatus.HELD
                if seat_id in held
                else SeatStatus.SOLD
                if seat_id in sold
                else SeatStatus.BLOCKED
                if seat_id in state.blocked
                else SeatStatus.AVAILABLE
            )
            assert status is expected, f"seat {seat_id} state disagrees with holds/sales"
        free = sum(1 for s in SEAT_IDS if self.inventory.seat_status(s) is SeatStatus.AVAILABLE)
        assert sum(self.inventory.available_by_section().values()) == free

    @invariant()
    def general_admission_within_capacity(self) -> None:
        state = self.inventory.state()
        held = sum(h.quantity for h in state.holds if h.zone_id == 900)
        sold = sum(o.quantity for o in state.sales if o.zone_id == 900)
        assert self.inventory.ga_counts(900) == (held, sold)
        assert held + sold <= 6, "GA sold+held exceeds capacity"

    @invariant()
    def buyer_limit_holds(self) -> None:
        state = self.inventory.state()
        tickets = Counter[int]()
        for hold in state.holds:
            tickets[hold.buyer_id] += hold.quantity
        for sale in state.sales:
            tickets[sale.buyer_id] += sale.quantity
        for buyer, count in tickets.items():
            assert count <= SETUP.buyer_limit, "per-buyer limit exceeded"
            assert self.inventory.buyer_tickets(buyer) == count

    @invariant()
    def rebuilt_from_persisted_events_equals_memory(self) -> None:
        replayed = EventInventory(SETUP)
        for record in self.log:
            replayed.apply(from_record(record))
        assert replayed.state() == self.inventory.state(), "replaying events diverged"
        restored = EventInventory.restore(SETUP, self.inventory.state())
        assert restored.state() == self.inventory.state(), "restore from state diverged"
        assert restored.seat_statuses() == self.inventory.seat_statuses()


InventoryMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestInventoryProperties = InventoryMachine.TestCase
