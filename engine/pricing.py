"""What an event charges: one price tier per seat category."""

from __future__ import annotations

from dataclasses import dataclass

from engine.venue import Venue


@dataclass(frozen=True, slots=True)
class PriceTier:
    code: str
    name: str
    category: str
    price_cents: int


@dataclass(frozen=True)
class EventSetup:
    """Everything the inventory needs to know about one event, fixed for its sale."""

    event_id: int
    venue: Venue
    price_tiers: tuple[PriceTier, ...]
    buyer_limit: int = 8
    hold_ttl_seconds: float = 600.0

    def tier_for_category(self, category: str) -> PriceTier | None:
        for tier in self.price_tiers:
            if tier.category == category:
                return tier
        return None
