"""Seat layout as the inventory sees it: rows in quality order with a status byte per seat.

Best-available runs thousands of times a second on one core, so the hot state
is laid out for it: every row keeps a `bytearray` of seat statuses (0 means
available), which lets a compiled regular expression find runs of free seats
without a Python loop over seats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.pricing import EventSetup

FREE = 0
HELD = 1
SOLD = 2
BLOCKED = 3
UNPRICED = 4
"""A seat whose category has no price tier: it exists but cannot be sold."""

_RUN_PATTERNS: dict[int, re.Pattern[bytes]] = {}


def free_runs(statuses: bytes | bytearray, min_length: int) -> list[tuple[int, int]]:
    """[start, end) of every run of free seats at least `min_length` long."""
    pattern = _RUN_PATTERNS.get(min_length)
    if pattern is None:
        pattern = re.compile(b"\x00{%d,}" % min_length)
        _RUN_PATTERNS[min_length] = pattern
    return [match.span() for match in pattern.finditer(statuses)]


@dataclass(slots=True)
class RowSlot:
    index: int
    section_id: int
    seat_ids: tuple[int, ...]
    categories: tuple[str, ...]
    prices_cents: tuple[int, ...]
    statuses: bytearray
    free: int
    uniform_category: str | None


def build_rows(setup: EventSetup) -> tuple[list[RowSlot], dict[int, tuple[int, int]]]:
    """Rows in quality order and a map seat_id -> (row index, position in row)."""
    price_by_category = {tier.category: tier.price_cents for tier in setup.price_tiers}
    seats = setup.venue.seats
    rows: list[RowSlot] = []
    positions: dict[int, tuple[int, int]] = {}
    for index, (section_id, row) in enumerate(setup.venue.rows_by_quality):
        categories = tuple(seats[seat_id].category for seat_id in row.seat_ids)
        prices = tuple(price_by_category.get(category, -1) for category in categories)
        statuses = bytearray(FREE if price >= 0 else UNPRICED for price in prices)
        for position, seat_id in enumerate(row.seat_ids):
            positions[seat_id] = (index, position)
        unique = set(categories)
        rows.append(
            RowSlot(
                index=index,
                section_id=section_id,
                seat_ids=row.seat_ids,
                categories=categories,
                prices_cents=prices,
                statuses=statuses,
                free=statuses.count(FREE),
                uniform_category=next(iter(unique)) if len(unique) == 1 else None,
            )
        )
    return rows, positions


def best_block_in_row(row: RowSlot, quantity: int,
                      allowed: frozenset[str] | None) -> tuple[int, bool] | None:
    """Best start position for `quantity` adjacent seats in this row, or None.

    Best means: no single seat left stranded at either side of the block if that
    can be avoided in this row, then closest to the middle of the row. The flag
    says whether the chosen block strands a seat.
    """
    statuses: bytes | bytearray = row.statuses
    if allowed is not None and row.uniform_category not in allowed:
        if row.uniform_category is not None:
            return None
        statuses = bytes(
            status if category in allowed else BLOCKED
            for status, category in zip(row.statuses, row.categories, strict=True)
        )
    runs = free_runs(statuses, quantity)
    if not runs:
        return None
    middle = (len(row.seat_ids) - quantity) / 2.0
    best: tuple[bool, float, int] | None = None
    for run_start, run_end in runs:
        last_start = run_end - quantity
        ideal = min(max(round(middle), run_start), last_start)
        for start in _starts_by_distance(ideal, run_start, last_start):
            strands = start - run_start == 1 or last_start - start == 1
            candidate = (strands, abs(start - middle), start)
            if best is None or candidate < best:
                best = candidate
            if not strands:
                break
    assert best is not None
    return best[2], best[0]


def _starts_by_distance(ideal: int, low: int, high: int) -> list[int]:
    """Start positions in [low, high], nearest to `ideal` first (at most a handful are needed)."""
    order = [ideal]
    for step in range(1, high - low + 1):
        if ideal - step >= low:
            order.append(ideal - step)
        if ideal + step <= high:
            order.append(ideal + step)
        if len(order) >= 5:
            break
    for edge in (low, high):
        if edge not in order:
            order.append(edge)
    return order
