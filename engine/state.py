"""The inventory's state as plain records: what the store persists and loads.

`EventInventory.state()` produces an `InventoryState`; `EventInventory.restore`
takes one back. Two inventories are in the same state exactly when their
`state()` values are equal, which is what the rebuild tests compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class SeatStatus(str, Enum):
    AVAILABLE = "available"
    HELD = "held"
    SOLD = "sold"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class HoldRecord:
    hold_id: str
    request_id: str
    buyer_id: int
    seat_ids: tuple[int, ...]
    prices_cents: tuple[int, ...]
    total_cents: int
    expires_at: float
    zone_id: int | None = None
    quantity: int = 0


@dataclass(frozen=True, slots=True)
class SaleRecord:
    order_id: str
    hold_id: str
    buyer_id: int
    seat_ids: tuple[int, ...]
    total_cents: int
    zone_id: int | None = None
    quantity: int = 0


@dataclass(frozen=True, slots=True)
class PresaleLock:
    """A presale as the inventory knows it: the price tiers it unlocks, which are locked
    for every buyer not let into it, and its window (epoch seconds), which decides what the
    line's stock figure counts."""

    presale_id: int
    tier_codes: tuple[str, ...]
    starts_at: float
    ends_at: float

    def is_open(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at


@dataclass(frozen=True)
class InventoryState:
    holds: tuple[HoldRecord, ...] = ()
    """Live holds, sorted by hold_id."""
    sales: tuple[SaleRecord, ...] = ()
    """Sales not refunded, sorted by order_id."""
    blocked: tuple[int, ...] = ()
    """Blocked seat ids, sorted."""
    version: int = 0
    """Grows by one for every applied event that changed a seat or GA count, or locked tiers."""
    presales: tuple[PresaleLock, ...] = ()
    """The event's presales, sorted by presale_id: the tiers they lock."""
