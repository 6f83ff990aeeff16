"""Commands the event inventory accepts. Imperative names; ids are given, never invented here.

`hold_id` is chosen by the caller (the partition consumer derives it from the
request id) so that deciding the same request twice yields the same hold.
"""

from __future__ import annotations

from dataclasses import dataclass

NO_TIERS: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class HoldSeats:
    request_id: str
    hold_id: str
    buyer_id: int
    seat_ids: tuple[int, ...]
    unlocked_tiers: frozenset[str] = NO_TIERS
    """Tiers of the event's presales the buyer was let into (see `LockTiers`)."""


@dataclass(frozen=True, slots=True)
class HoldBestAvailable:
    request_id: str
    hold_id: str
    buyer_id: int
    quantity: int
    section_id: int | None = None
    tier: str | None = None
    max_price_cents: int | None = None
    allow_split: bool = True
    """False: the seats must sit together in one row (no scattered fallback)."""
    unlocked_tiers: frozenset[str] = NO_TIERS


@dataclass(frozen=True, slots=True)
class HoldGeneralAdmission:
    request_id: str
    hold_id: str
    buyer_id: int
    zone_id: int
    quantity: int
    unlocked_tiers: frozenset[str] = NO_TIERS


@dataclass(frozen=True, slots=True)
class ReleaseHold:
    hold_id: str
    buyer_id: int


@dataclass(frozen=True, slots=True)
class ExpireHolds:
    """Expire every hold whose expires_at is at or before `now`."""


@dataclass(frozen=True, slots=True)
class SellHold:
    hold_id: str
    order_id: str
    buyer_id: int


@dataclass(frozen=True, slots=True)
class RefundOrder:
    order_id: str


@dataclass(frozen=True, slots=True)
class BlockSeats:
    seat_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class UnblockSeats:
    seat_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class OfferSeats:
    """Offer seats that came back to the head of the sold-out waiting list: a hold for that
    fan, decided in queue order with bookings, lasting `ttl_seconds` (the offer's window)."""

    offer_id: str
    hold_id: str
    buyer_id: int
    quantity: int
    ttl_seconds: float
    tier: str | None = None
    unlocked_tiers: frozenset[str] = NO_TIERS


@dataclass(frozen=True, slots=True)
class LockTiers:
    """A presale was created: its tiers are locked for every buyer whose hold, best-available
    or offer does not carry them in `unlocked_tiers`. Sent on the partition queue after the
    presale is stored, so it takes effect in queue order with bookings; deciding it again
    (or for a presale loaded with the event) changes nothing."""

    presale_id: int
    tier_codes: tuple[str, ...]
    starts_at: float
    ends_at: float


HoldCommand = HoldSeats | HoldBestAvailable | HoldGeneralAdmission
Command = (
    HoldSeats | HoldBestAvailable | HoldGeneralAdmission | ReleaseHold | ExpireHolds
    | SellHold | RefundOrder | BlockSeats | UnblockSeats | OfferSeats | LockTiers
)
