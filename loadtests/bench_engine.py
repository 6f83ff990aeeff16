"""`onsale bench engine`: how many best-available decisions the pure engine makes per second.

Workload: a 50,000-seat arena, buyers asking for best available 2-4 seats
(seeded), decided one after another on one core, with no I/O. Holds expire
and are re-offered so the run never sells out: every 5,000 decisions the
clock jumps past the hold TTL and `ExpireHolds` returns those seats, exactly as
the partition consumer does in production. Expiry work is timed too.
"""

from __future__ import annotations

import itertools
import random
import time
from typing import TYPE_CHECKING, Any

from engine.commands import ExpireHolds, HoldBestAvailable
from engine.events import SeatsHeld
from engine.inventory import EventInventory
from engine.layouts import arena
from engine.pricing import EventSetup, PriceTier
from engine.seatmap import venue_from_seatmap
from loadtests.benchio import print_table, write_results

if TYPE_CHECKING:
    from api.launcher.settings import Settings

ARENA_SEATS = 50_000
HOLD_TTL_SECONDS = 600.0
EXPIRE_EVERY = 5_000
SEED = 20261121


def build_setup() -> tuple[EventSetup, float]:
    started = time.perf_counter()
    doc = arena("Bench Arena", "Benchville", target_seats=ARENA_SEATS)
    venue = venue_from_seatmap(doc, 1, itertools.count(1), itertools.count(1),
                               itertools.count(1))
    categories = sorted({seat.category for seat in venue.seats.values()} |
                        {zone.category for zone in venue.ga_zones})
    tiers = tuple(PriceTier(c.lower(), c, c, 10_000 - 1_000 * i) for i, c in enumerate(categories))
    setup = EventSetup(1, venue, tiers, buyer_limit=8, hold_ttl_seconds=HOLD_TTL_SECONDS)
    return setup, time.perf_counter() - started


def run(seconds: float) -> dict[str, Any]:
    setup, build_seconds = build_setup()
    started = time.perf_counter()
    inventory = EventInventory(setup)
    index_seconds = time.perf_counter() - started
    rng = random.Random(SEED)
    now = 1_000_000.0
    decisions = held = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        for _ in range(EXPIRE_EVERY):
            request = f"r{decisions}"
            [event] = inventory.decide(
                HoldBestAvailable(request, request, decisions, rng.randint(2, 4)), now)
            decisions += 1
            held += isinstance(event, SeatsHeld)
            now += 0.001
        now += HOLD_TTL_SECONDS
        inventory.decide(ExpireHolds(), now)
    elapsed = time.perf_counter() - started
    fill = fill_to_sold_out(setup, rng)
    return {
        "seats": len(setup.venue.seats),
        "decisions": decisions,
        "held": held,
        "seconds": round(elapsed, 3),
        "decisions_per_s": round(decisions / elapsed),
        "venue_build_s": round(build_seconds, 3),
        "inventory_index_s": round(index_seconds, 3),
        **fill,
    }


def fill_to_sold_out(setup: EventSetup, rng: random.Random) -> dict[str, Any]:
    """Sell the arena from empty until a request is refused: the crowded end of a rush."""
    inventory = EventInventory(setup)
    decisions = 0
    started = time.perf_counter()
    while True:
        request = f"f{decisions}"
        [event] = inventory.decide(
            HoldBestAvailable(request, request, decisions, rng.randint(2, 4)), 0.0)
        decisions += 1
        if not isinstance(event, SeatsHeld):
            break
    elapsed = time.perf_counter() - started
    seats = len(setup.venue.seats)
    left = sum(inventory.available_by_section().values())
    return {
        "fill_decisions": decisions,
        "fill_decisions_per_s": round(decisions / elapsed),
        "fill_seats_left": left,
        "fill_share_sold": round(1 - left / seats, 4),
    }


def main(quick: bool, settings: Settings | None = None) -> int:
    figures = run(seconds=5.0 if quick else 20.0)
    print_table([figures], list(figures))
    print(f"{figures['decisions_per_s']} decisions/s "
          f"({figures['fill_decisions_per_s']} decisions/s filling to sold out)")
    path = write_results("engine", figures)
    print(f"wrote {path}")
    return 0
