"""Events the inventory emits, in the past tense.

Events are the persisted history of an event's inventory: applying them in
order to a fresh inventory rebuilds the same state (`EventInventory.apply`).
`to_record` / `from_record` give the JSON-safe form the store writes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import Enum
from typing import Any, assert_never, get_args


@dataclass(frozen=True, slots=True)
class SeatsHeld:
    request_id: str
    hold_id: str
    buyer_id: int
    seat_ids: tuple[int, ...]
    prices_cents: tuple[int, ...]
    total_cents: int
    expires_at: float
    zone_id: int | None = None
    quantity: int = 0
    """Number of tickets: len(seat_ids) for reserved seating, the GA quantity otherwise."""


@dataclass(frozen=True, slots=True)
class SeatsOffered:
    """Seats held for a waiting-list fan (an offer): a hold like `SeatsHeld` in every way
    but its origin, so it expires, is released or sold as any hold."""

    request_id: str
    """The offer's id."""
    hold_id: str
    buyer_id: int
    seat_ids: tuple[int, ...]
    prices_cents: tuple[int, ...]
    total_cents: int
    expires_at: float
    zone_id: int | None = None
    quantity: int = 0


@dataclass(frozen=True, slots=True)
class HoldRejected:
    request_id: str
    hold_id: str
    buyer_id: int
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class HoldReleased:
    hold_id: str
    buyer_id: int
    seat_ids: tuple[int, ...]
    zone_id: int | None = None
    quantity: int = 0


@dataclass(frozen=True, slots=True)
class HoldExpired:
    hold_id: str
    buyer_id: int
    seat_ids: tuple[int, ...]
    zone_id: int | None = None
    quantity: int = 0


@dataclass(frozen=True, slots=True)
class SeatsSold:
    hold_id: str
    order_id: str
    buyer_id: int
    seat_ids: tuple[int, ...]
    total_cents: int
    zone_id: int | None = None
    quantity: int = 0


@dataclass(frozen=True, slots=True)
class OrderRefunded:
    order_id: str
    buyer_id: int
    seat_ids: tuple[int, ...]
    zone_id: int | None = None
    quantity: int = 0
    hold_id: str = ""
    """The hold the order was sold from ('' in log records written before it was kept)."""


@dataclass(frozen=True, slots=True)
class SeatsBlocked:
    seat_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SeatsUnblocked:
    seat_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TiersLocked:
    """A presale's tiers became locked for buyers not let into it (`LockTiers`)."""

    presale_id: int
    tier_codes: tuple[str, ...]
    starts_at: float
    ends_at: float


Event = (
    SeatsHeld | HoldRejected | HoldReleased | HoldExpired | SeatsSold | OrderRefunded
    | SeatsBlocked | SeatsUnblocked | SeatsOffered | TiersLocked
)

_EVENT_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in get_args(Event)}


class EventType(str, Enum):
    """The `type` of an event's record: its class name, one member per class of `Event`.

    For code that reads the log without building events (the invariant audit), so that
    its dispatch over the names can end in `assert_never` too. A unit test keeps the
    members and `Event` the same.
    """

    SEATS_HELD = "SeatsHeld"
    HOLD_REJECTED = "HoldRejected"
    HOLD_RELEASED = "HoldReleased"
    HOLD_EXPIRED = "HoldExpired"
    SEATS_SOLD = "SeatsSold"
    ORDER_REFUNDED = "OrderRefunded"
    SEATS_BLOCKED = "SeatsBlocked"
    SEATS_UNBLOCKED = "SeatsUnblocked"
    SEATS_OFFERED = "SeatsOffered"
    TIERS_LOCKED = "TiersLocked"


def places_of(event: Event) -> tuple[tuple[int, ...], int | None]:
    """The seats an event changes the state of, and its general-admission zone (or None)."""
    match event:
        case (
            SeatsHeld() | SeatsOffered() | HoldReleased() | HoldExpired() | SeatsSold()
            | OrderRefunded()
        ):
            return event.seat_ids, event.zone_id
        case SeatsBlocked() | SeatsUnblocked():
            return event.seat_ids, None
        case HoldRejected() | TiersLocked():
            return (), None
        case _:
            assert_never(event)


def to_record(event: Event) -> dict[str, Any]:
    """JSON-safe dict with a `type` key; tuples become lists."""
    record: dict[str, Any] = {"type": type(event).__name__}
    for key, value in asdict(event).items():
        record[key] = list(value) if isinstance(value, tuple) else value
    return record


def from_record(record: dict[str, Any]) -> Event:
    cls = _EVENT_TYPES[record["type"]]
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in record:
            value = record[f.name]
            kwargs[f.name] = tuple(value) if isinstance(value, list) else value
    event: Event = cls(**kwargs)
    return event
