"""Decide a batch of requests in queue order against in-memory inventories.

No I/O here: inventories come from a loader (the store, or a fake in unit
tests) and what comes out is a `BatchDecision` the consumer persists in one
transaction and then publishes. Expiry is decided first, so seats whose hold
ran out are free for the requests of the same batch, in order with bookings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, assert_never

from engine.commands import (
    ExpireHolds,
    HoldGeneralAdmission,
    HoldSeats,
    LockTiers,
    RefundOrder,
    ReleaseHold,
    SellHold,
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
from engine.inventory import EventInventory
from engine.venue import Venue
from workers.booking_requests import BookingRequest, RequestKind

InventoryLoader = Callable[[int], EventInventory | None]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the fan is told about one request, and what is stored for idempotent re-runs."""

    request_id: str
    event_id: int
    buyer_id: int
    kind: str
    status: str
    result: dict[str, Any]
    decided_at: float
    enqueued_at: float = 0.0
    """When the API queued the request (0 if unknown): decided_at - enqueued_at is the
    request-to-decision latency the ops dashboard and the autopilot watch."""


@dataclass
class BatchDecision:
    events_by_event: dict[int, list[Event]] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    hold_endings: dict[str, str] = field(default_factory=dict)
    """Hold id -> how it ended in this batch (released, expired, sold, cancelled, or
    refunded: its order), so the hold request's status record can say it."""
    refunded_orders: list[str] = field(default_factory=list)
    """Orders refunded in this batch (a cancelled event's sales): once committed, each gets
    a refund job on the payments queue."""

    def add_events(self, event_id: int, events: list[Event], ending: str | None = None) -> None:
        """Record a batch's events; `ending` overrides how the holds they end ended."""
        if events:
            self.events_by_event.setdefault(event_id, []).extend(events)
            for event in events:
                self._note_ending(event, ending)

    def _note_ending(self, event: Event, ending: str | None) -> None:
        """What became of a hold, by the event that ended it; `cancelled` when its event's
        sale ended (the release is the consumer's, not the fan's); `refunded` when the order
        sold from it was refunded later (by ops, or because the event was cancelled)."""
        match event:
            case HoldReleased():
                self.hold_endings[event.hold_id] = ending or "released"
            case HoldExpired():
                self.hold_endings[event.hold_id] = ending or "expired"
            case SeatsSold():
                self.hold_endings[event.hold_id] = ending or "sold"
            case OrderRefunded():
                self.refunded_orders.append(event.order_id)
                if event.hold_id:
                    self.hold_endings[event.hold_id] = "refunded"
            case (SeatsHeld() | SeatsOffered() | HoldRejected() | SeatsBlocked()
                  | SeatsUnblocked() | TiersLocked()):
                pass  # no hold ended
            case _:
                assert_never(event)


class BatchDecider:
    def __init__(self, load_inventory: InventoryLoader):
        self._load = load_inventory
        self.inventories: dict[int, EventInventory] = {}
        self.closing: dict[int, EventInventory] = {}
        """Events whose sale ended (cancelled), with their inventory: the next `decide`
        releases their live holds, first, in queue order with everything decided before."""
        self.closed: dict[int, EventInventory | None] = {}
        """Closed events, with their last inventory if it was in memory (for seat labels and
        availability deltas): their requests are refused without a load."""
        self.refunding: set[int] = set()
        """Closing events that were cancelled: their sales are refunded too."""
        self.refunded: set[int] = set()
        """Closed events whose sales were refunded (decided, maybe not yet committed). A
        closed event not in it stopped selling without a cancel and kept its sales."""
        self.locks_due: dict[int, list[LockTiers]] = {}
        """Presales whose `lock_tiers` request never came (lost): the next `decide` locks
        their tiers first, as if the request had been at the head of its batch."""

    def inventory(self, event_id: int) -> EventInventory | None:
        if event_id in self.closed or event_id in self.closing:
            return None
        inventory = self.inventories.get(event_id)
        if inventory is None:
            inventory = self._load(event_id)
            if inventory is not None:
                self.inventories[event_id] = inventory
        return inventory

    def forget(self) -> None:
        """Drop every cached inventory (after a failed commit or a lost lease)."""
        self.inventories.clear()
        self.closing.clear()
        self.closed.clear()
        self.refunding.clear()
        self.refunded.clear()
        self.locks_due.clear()

    def lock_later(self, event_id: int, command: LockTiers) -> None:
        """Lock a presale's tiers in the next batch (its request was lost)."""
        self.locks_due.setdefault(event_id, []).append(command)

    def _lock_due(self, now: float, decision: BatchDecision) -> None:
        for event_id, commands in self.locks_due.items():
            inventory = self.inventories.get(event_id)
            if inventory is None:
                continue  # unloaded or closed meanwhile: a later load reads the presale
            for command in commands:
                decision.add_events(event_id, inventory.decide(command, now))
        self.locks_due.clear()

    def close(self, event_id: int, inventory: EventInventory | None = None,
              refund: bool = False) -> None:
        """The event stopped selling: the next `decide` releases its live holds (and, with
        `refund`, for a cancelled event, refunds its sales) and refuses its requests, and so
        does every one after it. `inventory`: the event's, loaded whatever its status, when
        it is not in memory."""
        inventory = self.inventories.pop(event_id, None) or inventory
        if inventory is None:
            self.closed[event_id] = None
        else:
            self.closing[event_id] = inventory
            if refund:
                self.refunding.add(event_id)

    def known(self, event_id: int) -> EventInventory | None:
        """The event's inventory in memory, closed or not, without loading it."""
        return (self.inventories.get(event_id) or self.closing.get(event_id)
                or self.closed.get(event_id))

    def venue(self, event_id: int) -> Venue | None:
        """The venue of an event in memory, or of one closed while it was."""
        inventory = self.known(event_id)
        return inventory.setup.venue if inventory is not None else None

    def _release_closing(self, now: float, decision: BatchDecision) -> None:
        """A closing event's live holds are released and, if it was cancelled, its sales
        refunded, in this batch, before any request of it."""
        for event_id, inventory in self.closing.items():
            state = inventory.state()
            for hold in state.holds:
                decision.add_events(event_id, inventory.decide(
                    ReleaseHold(hold.hold_id, hold.buyer_id), now), ending="cancelled")
            if event_id in self.refunding:
                self.refunded.add(event_id)
                for sale in state.sales:
                    decision.add_events(event_id,
                                        inventory.decide(RefundOrder(sale.order_id), now))
            self.closed[event_id] = inventory
        self.closing.clear()
        self.refunding.clear()

    def next_expiry(self) -> float | None:
        times = [t for inv in self.inventories.values() if (t := inv.next_expiry()) is not None]
        return min(times) if times else None

    def expire(self, now: float, decision: BatchDecision) -> None:
        for event_id, inventory in self.inventories.items():
            decision.add_events(event_id, inventory.decide(ExpireHolds(), now))

    def decide(self, requests: list[BookingRequest], now: float) -> BatchDecision:
        decision = BatchDecision()
        self.expire(now, decision)
        self._release_closing(now, decision)
        self._lock_due(now, decision)
        for request in requests:
            fresh = request.event_id not in self.inventories
            inventory = self.inventory(request.event_id)
            if inventory is not None and fresh:
                decision.add_events(request.event_id, inventory.decide(ExpireHolds(), now))
            if inventory is None:
                decision.outcomes.append(_outcome(request, "rejected", now, error=BookingError(
                    ErrorCode.INVALID_REQUEST, "This event is not on sale.",
                    {"event_id": request.event_id})))
                continue
            events, outcome = self._decide_one(inventory, request, now)
            decision.add_events(request.event_id, events)
            decision.outcomes.append(outcome)
        return decision

    def _decide_one(self, inventory: EventInventory, request: BookingRequest,
                    now: float) -> tuple[list[Event], Outcome]:
        try:
            command = request.to_command()
        except (BookingError, KeyError, TypeError, ValueError) as error:
            problem = error if isinstance(error, BookingError) else BookingError(
                ErrorCode.INVALID_REQUEST, "Malformed request.", {"reason": str(error)})
            return [], _outcome(request, "rejected", now, error=problem)
        try:
            if isinstance(command, SellHold):
                events = self._sell(inventory, request, command, now)
            else:
                events = inventory.decide(command, now)
        except BookingError as error:
            return [], _outcome(request, "rejected", now, error=error)
        return events, _outcome_of_events(request, events, now)

    def _sell(self, inventory: EventInventory, request: BookingRequest, command: SellHold,
              now: float) -> list[Event]:
        """Sell a paid hold; if it expired meanwhile, re-hold the same seats when still free.

        Expiry for `now` has already run for this inventory, so a hold still present is live.
        """
        if inventory.hold(command.hold_id) is not None:
            return inventory.decide(command, now)
        if inventory.sale(command.order_id) is not None:
            raise BookingError(ErrorCode.INVALID_REQUEST, "This order is already paid.",
                               {"order_id": command.order_id})
        params = request.params
        rehold: HoldSeats | HoldGeneralAdmission
        # The fan's own seats, paid for: a presale that locked their tier since is no reason
        # to refuse them.
        every_tier = frozenset(tier.code for tier in inventory.setup.price_tiers)
        if params.get("zone_id") is not None:
            rehold = HoldGeneralAdmission(request.request_id, request.request_id, request.buyer_id,
                                          int(params["zone_id"]), int(params["quantity"]),
                                          every_tier)
        elif params.get("seat_ids"):
            rehold = HoldSeats(request.request_id, request.request_id, request.buyer_id,
                               tuple(int(s) for s in params["seat_ids"]), every_tier)
        else:
            raise BookingError(ErrorCode.HOLD_NOT_FOUND, "No live hold with this id for you.",
                               {"hold_id": command.hold_id})
        [held] = inventory.decide(rehold, now)
        if isinstance(held, HoldRejected):
            raise BookingError(ErrorCode.HOLD_EXPIRED,
                               "The hold expired before payment and its seats were taken.",
                               {"hold_id": command.hold_id})
        sold = inventory.decide(SellHold(request.request_id, command.order_id, request.buyer_id),
                                now)
        return [held, *sold]


def _outcome(request: BookingRequest, status: str, now: float,
             error: BookingError | None = None, **result: Any) -> Outcome:
    if request.kind == RequestKind.SELL and "order_id" in request.params:
        # A refused sale must say which order to void; a sold one names it too.
        result.setdefault("order_id", str(request.params["order_id"]))
    if error is not None:
        result["error"] = {"code": error.code.value, "message": error.message,
                           "details": error.details}
    return Outcome(request.request_id, request.event_id, request.buyer_id, request.kind, status,
                   result, now, request.enqueued_at)


def rejected(request: BookingRequest, code: str, message: str, decided_at: float) -> Outcome:
    """The outcome of a request rejected with `code` (as logged), built as the decider does."""
    return _outcome(request, "rejected", decided_at, error=BookingError(ErrorCode(code), message))


def _outcome_of_events(request: BookingRequest, events: list[Event], now: float) -> Outcome:
    own = [e for e in events if not isinstance(e, HoldExpired)] or events
    last = own[-1] if own else None
    match last:
        case SeatsHeld():
            return _outcome(request, "held", now, **held_compact(last))
        case SeatsOffered():  # the offered fan checks out as from any hold
            return _outcome(request, "held", now, **held_compact(last), offer=True)
        case HoldRejected():
            return _outcome(request, "rejected", now, error=BookingError(
                ErrorCode(last.code), last.message))
        case SeatsSold():
            return _outcome(request, "sold", now, order_id=last.order_id, hold_id=last.hold_id,
                            seat_ids=list(last.seat_ids), quantity=last.quantity,
                            total_cents=last.total_cents,
                            reheld=last.hold_id != request.params.get("hold_id"))
        case HoldReleased():
            return _outcome(request, "released", now, hold_id=last.hold_id)
        case OrderRefunded():
            return _outcome(request, "refunded", now, order_id=last.order_id)
        case SeatsBlocked() | SeatsUnblocked():
            return _outcome(request, "done", now, seat_ids=list(last.seat_ids))
        case TiersLocked():
            return _outcome(request, "done", now, tier_codes=list(last.tier_codes))
        case HoldExpired() | None:  # nothing of its own happened (only expiries, or nothing)
            return _outcome(request, "done", now)
        case _:
            assert_never(last)


def held_compact(held: SeatsHeld | SeatsOffered) -> dict[str, Any]:
    """What is stored for a held request: ids and prices; `expand_held` adds seat details."""
    return {"hold_id": held.hold_id, "seat_ids": list(held.seat_ids),
            "prices_cents": list(held.prices_cents), "zone_id": held.zone_id,
            "quantity": held.quantity, "total_cents": held.total_cents,
            "expires_at": held.expires_at}


def expand_held(result: dict[str, Any], venue: Venue) -> dict[str, Any]:
    """The fan's view of a hold: every seat with its section, row, label and price."""
    if result.get("zone_id") is not None:  # general admission: a price per person, no seats
        return {**result, "seats": []}
    seats = []
    for seat_id, price in zip(result["seat_ids"], result["prices_cents"], strict=True):
        seat = venue.seats[seat_id]
        seats.append({"seat_id": seat_id, "section_id": seat.section_id, "row": seat.row_label,
                      "label": seat.label, "category": seat.category, "price_cents": price})
    return {**result, "seats": seats}
