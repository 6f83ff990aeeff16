"""The event inventory aggregate: the one place that decides who gets which seat.

Commands go in through `decide(command, now)`, which validates against the
current state and returns the events that happened; the same events fed to
`apply` rebuild the state, which is how a partition consumer recovers and how
the tests check that persistence loses nothing.

Hold commands never raise for business reasons: a refusal is itself an event
(`HoldRejected`) because the fan must be told and the outcome recorded. The
other commands raise `BookingError` and leave the state untouched.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import assert_never

from engine import seating
from engine.commands import (
    BlockSeats,
    Command,
    ExpireHolds,
    HoldBestAvailable,
    HoldGeneralAdmission,
    HoldSeats,
    LockTiers,
    OfferSeats,
    RefundOrder,
    ReleaseHold,
    SellHold,
    UnblockSeats,
)
from engine.errors import BookingError, ErrorCode
from engine.events import (
    Event,
    HoldExpired,
    HoldRejected,
    HoldReleased,
    OrderRefunded,
    SeatsBlocked,
    SeatsHeld,
    SeatsOffered,
    SeatsSold,
    SeatsUnblocked,
    TiersLocked,
)
from engine.pricing import EventSetup
from engine.seating import BLOCKED, FREE, HELD, SOLD, UNPRICED, RowSlot
from engine.state import HoldRecord, InventoryState, PresaleLock, SaleRecord, SeatStatus

MAX_SEATS_PER_HOLD = 20

_Chooser = Callable[[], tuple[int, ...]]

_STATUS_NAMES = {
    FREE: SeatStatus.AVAILABLE,
    HELD: SeatStatus.HELD,
    SOLD: SeatStatus.SOLD,
    BLOCKED: SeatStatus.BLOCKED,
    UNPRICED: SeatStatus.BLOCKED,
}


class EventInventory:
    def __init__(self, setup: EventSetup):
        self.setup = setup
        self._rows, self._positions = seating.build_rows(setup)
        self._rows_by_section: dict[int, list[RowSlot]] = {}
        for row in self._rows:
            self._rows_by_section.setdefault(row.section_id, []).append(row)
        self._section_free = {
            section_id: sum(row.free for row in rows)
            for section_id, rows in self._rows_by_section.items()
        }
        self._zone_capacity = {zone.zone_id: zone.capacity for zone in setup.venue.ga_zones}
        self._zone_category = {zone.zone_id: zone.category for zone in setup.venue.ga_zones}
        self._zone_held = dict.fromkeys(self._zone_capacity, 0)
        self._zone_sold = dict.fromkeys(self._zone_capacity, 0)
        self._price_by_category = {t.category: t.price_cents for t in setup.price_tiers}
        self._holds: dict[str, HoldRecord] = {}
        self._sales: dict[str, SaleRecord] = {}
        self._blocked: set[int] = set()
        self._buyer_tickets: dict[int, int] = {}
        self._expiry_heap: list[tuple[float, str]] = []
        self._first_fit: dict[int, int] = {}
        """quantity -> index of a row before which no row has that many free seats."""
        self._tiers_by_category: dict[str, frozenset[str]] = {}
        for tier in setup.price_tiers:
            self._tiers_by_category[tier.category] = (
                self._tiers_by_category.get(tier.category, frozenset()) | {tier.code})
        self._presales: dict[int, PresaleLock] = {}
        self._locked_categories: dict[str, frozenset[str]] = {}
        """category -> its tier codes, for each category every tier of which a presale locks:
        its seats and places go only to buyers let into a presale that unlocks one of them."""
        self.version = 0

    # ------------------------------------------------------------------ restore / state

    @classmethod
    def restore(cls, setup: EventSetup, state: InventoryState) -> EventInventory:
        inventory = cls(setup)
        for seat_id in state.blocked:
            inventory._set_seats((seat_id,), BLOCKED)
            inventory._blocked.add(seat_id)
        for hold in state.holds:
            inventory._put_hold(hold)
        for sale in state.sales:
            inventory._put_sale(sale)
        for presale in state.presales:
            inventory._lock(presale)
        inventory.version = state.version
        return inventory

    def state(self) -> InventoryState:
        return InventoryState(
            holds=tuple(self._holds[key] for key in sorted(self._holds)),
            sales=tuple(self._sales[key] for key in sorted(self._sales)),
            blocked=tuple(sorted(self._blocked)),
            version=self.version,
            presales=tuple(self._presales[key] for key in sorted(self._presales)),
        )

    # ------------------------------------------------------------------ queries

    def seat_status(self, seat_id: int) -> SeatStatus:
        row_index, position = self._positions[seat_id]
        return _STATUS_NAMES[self._rows[row_index].statuses[position]]

    def seat_statuses(self) -> dict[int, SeatStatus]:
        return {
            seat_id: _STATUS_NAMES[row.statuses[position]]
            for row in self._rows
            for position, seat_id in enumerate(row.seat_ids)
        }

    def available_by_section(self) -> dict[int, int]:
        return dict(self._section_free)

    def tickets_available(self) -> int:
        """Tickets anyone could still hold now: free seats plus free general-admission places
        (held ones are not counted; they come back if their holds expire)."""
        return sum(self._section_free.values()) + sum(
            self.ga_available(zone_id) for zone_id in self._zone_capacity)

    def tickets_for_line(self, now: float) -> int:
        """Tickets a fan in the event's line could still hold now: free seats and places of
        every category no presale locks and, while presales are open, of the tiers they
        unlock (only their code holders may join the line then). Equals `tickets_available`
        for an event without presales."""
        if not self._locked_categories:
            return self.tickets_available()
        open_tiers = frozenset(code for presale in self._presales.values()
                               if presale.is_open(now) for code in presale.tier_codes)
        closed = self._closed_categories(open_tiers)
        if not closed:
            return self.tickets_available()
        seats = 0
        for row in self._rows:
            if not row.free:
                continue
            if row.uniform_category is not None:
                seats += row.free if row.uniform_category not in closed else 0
                continue
            seats += sum(1 for status, category in zip(row.statuses, row.categories, strict=True)
                         if status == FREE and category not in closed)
        return seats + sum(self.ga_available(zone_id)
                           for zone_id, category in self._zone_category.items()
                           if category not in closed)

    def knows_presale(self, presale_id: int) -> bool:
        return presale_id in self._presales

    def locked_tiers(self) -> frozenset[str]:
        """Every tier a presale of the event unlocks (and so locks for everyone else)."""
        return frozenset(code for presale in self._presales.values()
                         for code in presale.tier_codes)

    def ga_available(self, zone_id: int) -> int:
        return self._zone_capacity[zone_id] - self._zone_held[zone_id] - self._zone_sold[zone_id]

    def ga_counts(self, zone_id: int) -> tuple[int, int]:
        """(held, sold) tickets of a general-admission zone."""
        return self._zone_held[zone_id], self._zone_sold[zone_id]

    def hold(self, hold_id: str) -> HoldRecord | None:
        return self._holds.get(hold_id)

    def sale(self, order_id: str) -> SaleRecord | None:
        return self._sales.get(order_id)

    def buyer_tickets(self, buyer_id: int) -> int:
        return self._buyer_tickets.get(buyer_id, 0)

    def next_expiry(self) -> float | None:
        """When the earliest live hold expires; None when nothing is held."""
        heap = self._expiry_heap
        while heap:
            expires_at, hold_id = heap[0]
            hold = self._holds.get(hold_id)
            if hold is not None and hold.expires_at == expires_at:
                return expires_at
            heapq.heappop(heap)
        return None

    # ------------------------------------------------------------------ decide

    def decide(self, command: Command, now: float) -> list[Event]:
        """Validate one command against the current state, apply what happened, return it."""
        events = self._decide(command, now)
        for event in events:
            self.apply(event)
        return events

    def _decide(self, command: Command, now: float) -> list[Event]:
        match command:
            case HoldBestAvailable():
                return [self._hold_or_reject(command, lambda: self._pick_best(command), now)]
            case HoldSeats():
                return [self._hold_or_reject(command, lambda: self._check_seats(command), now)]
            case HoldGeneralAdmission():
                return [self._hold_general_admission(command, now)]
            case ExpireHolds():
                return self._expire(now)
            case ReleaseHold():
                hold = self._owned_hold(command.hold_id, command.buyer_id)
                return [HoldReleased(hold.hold_id, hold.buyer_id, hold.seat_ids, hold.zone_id,
                                     hold.quantity)]
            case SellHold():
                return [self._sell(command, now)]
            case RefundOrder():
                sale = self._sales.get(command.order_id)
                if sale is None:
                    raise BookingError(ErrorCode.ORDER_NOT_FOUND, "No sale with this order id.",
                                       {"order_id": command.order_id})
                return [OrderRefunded(sale.order_id, sale.buyer_id, sale.seat_ids, sale.zone_id,
                                      sale.quantity, sale.hold_id)]
            case BlockSeats():
                return [self._block(command.seat_ids)]
            case UnblockSeats():
                return [self._unblock(command.seat_ids)]
            case OfferSeats():
                return self._offer(command, now)
            case LockTiers():
                if command.presale_id in self._presales:
                    return []  # loaded with the event, or decided before: nothing changes
                return [TiersLocked(command.presale_id, tuple(command.tier_codes),
                                    command.starts_at, command.ends_at)]
            case _:
                assert_never(command)

    def _offer(self, command: OfferSeats, now: float) -> list[Event]:
        """The best free seats of the tier for the fan at the head of the waiting list, or
        nothing when too few are free (the fan stays at the head for the next seats back)."""
        wanted = HoldBestAvailable(command.offer_id, command.hold_id, command.buyer_id,
                                   command.quantity, tier=command.tier,
                                   unlocked_tiers=command.unlocked_tiers)
        try:
            self._check_hold_request(command.hold_id, command.buyer_id, command.quantity)
            seat_ids = self._pick_best(wanted)
        except BookingError:
            return []
        prices = tuple(self._seat_price(seat_id) for seat_id in seat_ids)
        return [SeatsOffered(
            request_id=command.offer_id,
            hold_id=command.hold_id,
            buyer_id=command.buyer_id,
            seat_ids=seat_ids,
            prices_cents=prices,
            total_cents=sum(prices),
            expires_at=round(now + command.ttl_seconds, 6),
            quantity=len(seat_ids),
        )]

    def _hold_or_reject(self, command: HoldSeats | HoldBestAvailable, choose: _Chooser,
                        now: float) -> SeatsHeld | HoldRejected:
        try:
            match command:
                case HoldSeats():
                    quantity = len(command.seat_ids)
                case HoldBestAvailable():
                    quantity = command.quantity
                case _:
                    assert_never(command)
            self._check_hold_request(command.hold_id, command.buyer_id, quantity)
            seat_ids = choose()
        except BookingError as error:
            return HoldRejected(command.request_id, command.hold_id, command.buyer_id,
                                error.code.value, error.message)
        prices = tuple(self._seat_price(seat_id) for seat_id in seat_ids)
        return SeatsHeld(
            request_id=command.request_id,
            hold_id=command.hold_id,
            buyer_id=command.buyer_id,
            seat_ids=seat_ids,
            prices_cents=prices,
            total_cents=sum(prices),
            expires_at=round(now + self.setup.hold_ttl_seconds, 6),
            quantity=len(seat_ids),
        )

    def _check_hold_request(self, hold_id: str, buyer_id: int, quantity: int) -> None:
        if hold_id in self._holds:
            raise BookingError(ErrorCode.INVALID_REQUEST, "This hold id is already in use.")
        if not 1 <= quantity <= MAX_SEATS_PER_HOLD:
            raise BookingError(
                ErrorCode.INVALID_REQUEST,
                f"Ask for between 1 and {MAX_SEATS_PER_HOLD} tickets.",
                {"field": "quantity", "max": MAX_SEATS_PER_HOLD},
            )
        already = self._buyer_tickets.get(buyer_id, 0)
        if already + quantity > self.setup.buyer_limit:
            raise BookingError(
                ErrorCode.LIMIT_EXCEEDED,
                f"At most {self.setup.buyer_limit} tickets per buyer for this event.",
                {"limit": self.setup.buyer_limit, "already": already},
            )

    def _check_seats(self, command: HoldSeats) -> tuple[int, ...]:
        seat_ids = command.seat_ids
        if len(set(seat_ids)) != len(seat_ids):
            raise BookingError(ErrorCode.INVALID_REQUEST, "A seat is listed twice.",
                               {"field": "seats"})
        unknown = [seat_id for seat_id in seat_ids if seat_id not in self._positions]
        if unknown:
            raise BookingError(ErrorCode.INVALID_REQUEST, "Unknown seats for this event.",
                               {"field": "seats", "seat_ids": unknown})
        unpriced = [seat_id for seat_id in seat_ids if self._status_code(seat_id) == UNPRICED]
        if unpriced:
            raise BookingError(ErrorCode.INVALID_REQUEST, "These seats are not on sale.",
                               {"field": "seats", "seat_ids": unpriced})
        closed = self._closed_categories(command.unlocked_tiers)
        if closed:
            locked = [seat_id for seat_id in seat_ids if self._seat_category(seat_id) in closed]
            if locked:
                raise BookingError(ErrorCode.TIER_LOCKED,
                                   "These seats are open only to presale code holders.",
                                   {"field": "seats", "seat_ids": locked})
        taken = [seat_id for seat_id in seat_ids if self._status_code(seat_id) != FREE]
        if taken:
            raise BookingError(ErrorCode.SEATS_TAKEN,
                               "Some of these seats are no longer available.",
                               {"seat_ids": taken})
        return seat_ids

    def _pick_best(self, command: HoldBestAvailable) -> tuple[int, ...]:
        allowed = self._allowed_categories(command)
        quantity = command.quantity
        if command.section_id is not None:
            if command.section_id not in self._rows_by_section:
                raise BookingError(ErrorCode.INVALID_REQUEST, "Unknown section for this event.",
                                   {"field": "section_id"})
            if self._section_free[command.section_id] < quantity:
                raise _sold_out(quantity)  # at once: a sold-out section is the rush's usual case
            candidates: Iterable[RowSlot] = self._rows_by_section[command.section_id]
            cursor = None
        else:
            cursor = self._first_fit.get(quantity, 0)
            candidates = self._rows[cursor:] if cursor else self._rows
        fallback: tuple[RowSlot, int] | None = None
        for row in candidates:
            if row.free < quantity:
                if cursor is not None and row.index == cursor:
                    cursor += 1
                continue
            if cursor is not None:
                self._first_fit[quantity] = cursor
                cursor = None
            placement = seating.best_block_in_row(row, quantity, allowed)
            if placement is None:
                continue
            start, strands = placement
            if not strands:
                return row.seat_ids[start:start + quantity]
            if fallback is None:
                fallback = (row, start)
        if cursor is not None:
            self._first_fit[quantity] = cursor
        if fallback is not None:
            row, start = fallback
            return row.seat_ids[start:start + quantity]
        if not command.allow_split:
            raise _sold_out(quantity)
        return self._pick_scattered(command, allowed)

    def _pick_scattered(self, command: HoldBestAvailable,
                        allowed: frozenset[str] | None) -> tuple[int, ...]:
        """No row has the block: take the best single seats, nearest the front first."""
        rows = (self._rows_by_section[command.section_id] if command.section_id is not None
                else self._rows)
        chosen: list[int] = []
        for row in rows:
            if not row.free:
                continue
            for position, status in enumerate(row.statuses):
                if status == FREE and (allowed is None or row.categories[position] in allowed):
                    chosen.append(row.seat_ids[position])
                    if len(chosen) == command.quantity:
                        return tuple(chosen)
        raise _sold_out(command.quantity)

    def _allowed_categories(self, command: HoldBestAvailable) -> frozenset[str] | None:
        """The categories best-available may pick from (None: any), without those locked
        for the buyer."""
        closed = self._closed_categories(command.unlocked_tiers)
        if command.tier is None and command.max_price_cents is None and not closed:
            return None
        tiers = self.setup.price_tiers
        if command.tier is not None:
            tiers = tuple(t for t in tiers if t.code == command.tier)
            if not tiers:
                raise BookingError(ErrorCode.INVALID_REQUEST, "Unknown price tier for this event.",
                                   {"field": "tier"})
            if all(t.category in closed for t in tiers):
                raise BookingError(ErrorCode.TIER_LOCKED,
                                   "This price tier is open only to presale code holders.",
                                   {"field": "tier", "tier": command.tier})
        if command.max_price_cents is not None:
            tiers = tuple(t for t in tiers if t.price_cents <= command.max_price_cents)
        if not tiers:
            raise BookingError(ErrorCode.SOLD_OUT, "No seats at or under this price.",
                               {"max_price_cents": command.max_price_cents})
        allowed = frozenset(t.category for t in tiers) - closed
        if not allowed:
            raise _sold_out(command.quantity)
        return allowed

    def _closed_categories(self, unlocked_tiers: frozenset[str]) -> frozenset[str]:
        """Categories whose seats and places this buyer may not have: every tier of the
        category is locked by a presale and none of them is among the buyer's unlocked
        tiers (the presales the buyer was let into)."""
        if not self._locked_categories:
            return frozenset()
        return frozenset(category for category, codes in self._locked_categories.items()
                         if codes.isdisjoint(unlocked_tiers))

    def _hold_general_admission(self, command: HoldGeneralAdmission,
                                now: float) -> SeatsHeld | HoldRejected:
        try:
            self._check_hold_request(command.hold_id, command.buyer_id, command.quantity)
            if command.zone_id not in self._zone_capacity:
                raise BookingError(ErrorCode.INVALID_REQUEST, "Unknown zone for this event.",
                                   {"field": "zone_id"})
            price = self._price_by_category.get(self._zone_category[command.zone_id])
            if price is None:
                raise BookingError(ErrorCode.INVALID_REQUEST, "This zone is not on sale.",
                                   {"field": "zone_id"})
            if self._zone_category[command.zone_id] in self._closed_categories(
                    command.unlocked_tiers):
                raise BookingError(ErrorCode.TIER_LOCKED,
                                   "This zone is open only to presale code holders.",
                                   {"field": "zone_id"})
            if self.ga_available(command.zone_id) < command.quantity:
                raise BookingError(ErrorCode.SOLD_OUT, "Not enough tickets left in this zone.",
                                   {"available": self.ga_available(command.zone_id)})
        except BookingError as error:
            return HoldRejected(command.request_id, command.hold_id, command.buyer_id,
                                error.code.value, error.message)
        prices = (price,) * command.quantity
        return SeatsHeld(
            request_id=command.request_id,
            hold_id=command.hold_id,
            buyer_id=command.buyer_id,
            seat_ids=(),
            prices_cents=prices,
            total_cents=sum(prices),
            expires_at=round(now + self.setup.hold_ttl_seconds, 6),
            zone_id=command.zone_id,
            quantity=command.quantity,
        )

    def _expire(self, now: float) -> list[Event]:
        expired: list[Event] = []
        heap = self._expiry_heap
        while heap and heap[0][0] <= now:
            expires_at, hold_id = heapq.heappop(heap)
            hold = self._holds.get(hold_id)
            if hold is None or hold.expires_at != expires_at:
                continue
            expired.append(HoldExpired(hold.hold_id, hold.buyer_id, hold.seat_ids, hold.zone_id,
                                       hold.quantity))
        return expired

    def _owned_hold(self, hold_id: str, buyer_id: int) -> HoldRecord:
        hold = self._holds.get(hold_id)
        if hold is None or hold.buyer_id != buyer_id:
            raise BookingError(ErrorCode.HOLD_NOT_FOUND, "No live hold with this id for you.",
                               {"hold_id": hold_id})
        return hold

    def _sell(self, command: SellHold, now: float) -> SeatsSold:
        hold = self._owned_hold(command.hold_id, command.buyer_id)
        if hold.expires_at <= now:
            raise BookingError(ErrorCode.HOLD_EXPIRED, "This hold expired before payment.",
                               {"hold_id": hold.hold_id, "expires_at": hold.expires_at})
        if command.order_id in self._sales:
            raise BookingError(ErrorCode.INVALID_REQUEST, "This order id is already used.",
                               {"order_id": command.order_id})
        return SeatsSold(hold.hold_id, command.order_id, hold.buyer_id, hold.seat_ids,
                         hold.total_cents, hold.zone_id, hold.quantity)

    def _block(self, seat_ids: tuple[int, ...]) -> SeatsBlocked:
        self._require_known(seat_ids)
        taken = [seat_id for seat_id in seat_ids if self._status_code(seat_id) != FREE]
        if taken:
            raise BookingError(ErrorCode.SEATS_TAKEN, "Only available seats can be blocked.",
                               {"seat_ids": taken})
        return SeatsBlocked(tuple(seat_ids))

    def _unblock(self, seat_ids: tuple[int, ...]) -> SeatsUnblocked:
        self._require_known(seat_ids)
        not_blocked = [seat_id for seat_id in seat_ids if seat_id not in self._blocked]
        if not_blocked:
            raise BookingError(ErrorCode.INVALID_REQUEST, "These seats are not blocked.",
                               {"seat_ids": not_blocked})
        return SeatsUnblocked(tuple(seat_ids))

    def _require_known(self, seat_ids: tuple[int, ...]) -> None:
        if not seat_ids or len(set(seat_ids)) != len(seat_ids):
            raise BookingError(ErrorCode.INVALID_REQUEST, "List each seat once.",
                               {"field": "seats"})
        unknown = [seat_id for seat_id in seat_ids if seat_id not in self._positions]
        if unknown:
            raise BookingError(ErrorCode.INVALID_REQUEST, "Unknown seats for this event.",
                               {"seat_ids": unknown})

    # ------------------------------------------------------------------ apply

    def apply(self, event: Event) -> None:
        """Change the state as the event says. No validation: events are facts."""
        match event:
            case SeatsHeld() | SeatsOffered():
                self._put_hold(HoldRecord(event.hold_id, event.request_id, event.buyer_id,
                                          event.seat_ids, event.prices_cents, event.total_cents,
                                          event.expires_at, event.zone_id, event.quantity))
            case HoldReleased() | HoldExpired():
                hold = self._holds.pop(event.hold_id)
                self._set_seats(hold.seat_ids, FREE)
                if hold.zone_id is not None:
                    self._zone_held[hold.zone_id] -= hold.quantity
                self._add_buyer_tickets(hold.buyer_id, -hold.quantity)
            case SeatsSold():
                hold = self._holds.pop(event.hold_id)
                self._set_seats(hold.seat_ids, SOLD)
                if hold.zone_id is not None:
                    self._zone_held[hold.zone_id] -= hold.quantity
                    self._zone_sold[hold.zone_id] += hold.quantity
                self._sales[event.order_id] = SaleRecord(event.order_id, hold.hold_id,
                                                         hold.buyer_id, hold.seat_ids,
                                                         hold.total_cents, hold.zone_id,
                                                         hold.quantity)
            case OrderRefunded():
                sale = self._sales.pop(event.order_id)
                self._set_seats(sale.seat_ids, FREE)
                if sale.zone_id is not None:
                    self._zone_sold[sale.zone_id] -= sale.quantity
                self._add_buyer_tickets(sale.buyer_id, -sale.quantity)
            case SeatsBlocked():
                self._set_seats(event.seat_ids, BLOCKED)
                self._blocked.update(event.seat_ids)
            case SeatsUnblocked():
                self._set_seats(event.seat_ids, FREE)
                self._blocked.difference_update(event.seat_ids)
            case TiersLocked():
                self._lock(PresaleLock(event.presale_id, event.tier_codes, event.starts_at,
                                       event.ends_at))
            case HoldRejected():  # a refusal changes nothing, not even the version
                return
            case _:
                assert_never(event)
        self.version += 1

    def _put_hold(self, hold: HoldRecord) -> None:
        self._holds[hold.hold_id] = hold
        self._set_seats(hold.seat_ids, HELD)
        if hold.zone_id is not None:
            self._zone_held[hold.zone_id] += hold.quantity
        self._add_buyer_tickets(hold.buyer_id, hold.quantity)
        heapq.heappush(self._expiry_heap, (hold.expires_at, hold.hold_id))

    def _put_sale(self, sale: SaleRecord) -> None:
        self._sales[sale.order_id] = sale
        self._set_seats(sale.seat_ids, SOLD)
        if sale.zone_id is not None:
            self._zone_sold[sale.zone_id] += sale.quantity
        self._add_buyer_tickets(sale.buyer_id, sale.quantity)

    def _lock(self, presale: PresaleLock) -> None:
        self._presales[presale.presale_id] = presale
        locked = self.locked_tiers()
        self._locked_categories = {category: codes
                                   for category, codes in self._tiers_by_category.items()
                                   if codes <= locked}

    def _add_buyer_tickets(self, buyer_id: int, delta: int) -> None:
        count = self._buyer_tickets.get(buyer_id, 0) + delta
        if count:
            self._buyer_tickets[buyer_id] = count
        else:
            self._buyer_tickets.pop(buyer_id, None)

    def _set_seats(self, seat_ids: tuple[int, ...], status: int) -> None:
        rows = self._rows
        for seat_id in seat_ids:
            row_index, position = self._positions[seat_id]
            row = rows[row_index]
            was_free = row.statuses[position] == FREE
            row.statuses[position] = status
            if was_free and status != FREE:
                row.free -= 1
                self._section_free[row.section_id] -= 1
            elif not was_free and status == FREE:
                row.free += 1
                self._section_free[row.section_id] += 1
                self._reopen(row)

    def _reopen(self, row: RowSlot) -> None:
        """A seat came back: rows before a cursor may fit again."""
        first_fit = self._first_fit
        for quantity in range(1, row.free + 1):
            cursor = first_fit.get(quantity)
            if cursor is not None and cursor > row.index:
                first_fit[quantity] = row.index

    def _status_code(self, seat_id: int) -> int:
        row_index, position = self._positions[seat_id]
        return self._rows[row_index].statuses[position]

    def _seat_category(self, seat_id: int) -> str:
        row_index, position = self._positions[seat_id]
        return self._rows[row_index].categories[position]

    def _seat_price(self, seat_id: int) -> int:
        row_index, position = self._positions[seat_id]
        return self._rows[row_index].prices_cents[position]


def _sold_out(quantity: int) -> BookingError:
    return BookingError(ErrorCode.SOLD_OUT, "Not enough seats left that match this request.",
                        {"quantity": quantity})
