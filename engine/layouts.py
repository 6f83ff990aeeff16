"""Realistic demo seat maps: an arena bowl, a proscenium theatre and a club.

They feed the demo catalog, the load tests and the browser seat map, so they
aim to look and behave like real rooms: curved rows around the stage, prices
falling with distance, aisles between sections, wheelchair places at row ends.
Everything is deterministic (no randomness), so the same call gives the same
document.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from engine.seatmap import DRAWING_SIZE, RowDoc, SeatDoc, SeatMapDoc, SectionDoc

DRAWING_MARGIN = 20.0
ARENA_DEFAULT_SEATS = 20_000
AISLE_DEGREES = 1.6
"""Angular gap left between neighbouring arena sections."""
ACCESSIBLE_PLACES_PER_ROW_END = 2


def row_letters(count: int, skip: str = "") -> list[str]:
    """A, B, ..., Z, AA, AB, ... leaving out letters theatres avoid (e.g. "I")."""
    alphabet = [letter for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if letter not in skip]
    labels: list[str] = []
    width = 1
    while len(labels) < count:
        for index in range(len(alphabet) ** width):
            label = ""
            rest = index
            for _ in range(width):
                rest, digit = divmod(rest, len(alphabet))
                label = alphabet[digit] + label
            labels.append(label)
            if len(labels) == count:
                break
        width += 1
    return labels


# ---------------------------------------------------------------- arena


@dataclass(frozen=True, slots=True)
class _Tier:
    """One ring of the bowl: rows are arcs centred on the stage."""

    prefix: str
    rank_base: int
    sections: int
    inner_radius: float
    outer_radius: float
    half_span_degrees: float
    lettered_rows: bool


_ARENA_TIERS = (
    _Tier("F", 0, 4, 0.10, 0.34, 36.0, lettered_rows=True),
    _Tier("1", 100, 12, 0.38, 0.64, 104.0, lettered_rows=False),
    _Tier("2", 200, 16, 0.68, 1.00, 110.0, lettered_rows=False),
)
_ARENA_CATEGORY_LIMITS = ((0.45, "A"), (0.68, "B"), (0.92, "C"))
"""Effective distance from the stage (arena radii) below which a seat is in a category."""


def _section_span(tier: _Tier, index: int) -> tuple[float, float]:
    """Start and end angle (radians, 0 = straight out from the stage) of one section."""
    width = 2 * tier.half_span_degrees / tier.sections
    start = -tier.half_span_degrees + index * width + AISLE_DEGREES / 2
    return math.radians(start), math.radians(start + width - AISLE_DEGREES)


def _tier_rows(tier: _Tier, pitch: float) -> list[float]:
    count = max(1, int((tier.outer_radius - tier.inner_radius) / pitch))
    depth = (tier.outer_radius - tier.inner_radius) / count
    return [tier.inner_radius + (index + 0.5) * depth for index in range(count)]


def _seats_in_row(radius: float, span: tuple[float, float], pitch: float) -> int:
    return max(1, int(radius * (span[1] - span[0]) / pitch))


def _arena_seat_count(pitch: float) -> int:
    total = 0
    for tier in _ARENA_TIERS:
        spans = [_section_span(tier, index) for index in range(tier.sections)]
        for radius in _tier_rows(tier, pitch):
            total += sum(_seats_in_row(radius, span, pitch) for span in spans)
    return total


def _arena_pitch(target_seats: int) -> float:
    """The largest seat pitch (arena radii) that still gives at least `target_seats`."""
    low, high = 1e-4, 0.2
    if _arena_seat_count(low) < target_seats:
        raise ValueError(f"an arena cannot hold {target_seats} seats")
    for _ in range(50):
        middle = (low + high) / 2
        if _arena_seat_count(middle) >= target_seats:
            low = middle
        else:
            high = middle
    return low


def arena(name: str, city: str, target_seats: int = ARENA_DEFAULT_SEATS,
          country: str = "") -> SeatMapDoc:
    """An end-stage arena: a floor in front of the stage, a lower and an upper bowl.

    Seat pitch is chosen so the arena holds at least `target_seats` (and only a
    little more). Categories A..D follow the distance to the stage, with side
    views counted as farther.
    """
    pitch = _arena_pitch(target_seats)
    # Raw coordinates: stage at the origin, audience towards +y, outer radius 1.
    scale = (DRAWING_SIZE - 2 * DRAWING_MARGIN) / 2.0
    lowest_y = min(tier.outer_radius * math.cos(math.radians(tier.half_span_degrees))
                   for tier in _ARENA_TIERS)
    top = (DRAWING_SIZE - scale * (1.0 - lowest_y)) / 2 - scale * lowest_y

    def point(radius: float, angle: float) -> tuple[float, float]:
        return (round(DRAWING_SIZE / 2 + scale * radius * math.sin(angle), 1),
                round(top + scale * radius * math.cos(angle), 1))

    sections: list[SectionDoc] = []
    for tier in _ARENA_TIERS:
        radii = _tier_rows(tier, pitch)
        labels = row_letters(len(radii)) if tier.lettered_rows else [
            str(number) for number in range(1, len(radii) + 1)]
        for index in range(tier.sections):
            span = _section_span(tier, index)
            centre_degrees = abs(math.degrees((span[0] + span[1]) / 2))
            rows: list[RowDoc] = []
            for row_index, radius in enumerate(radii):
                count = _seats_in_row(radius, span, pitch)
                step = (span[1] - span[0]) / count
                back_row = row_index == len(radii) - 1 and tier.prefix != "2"
                seats: list[SeatDoc] = []
                for number in range(count):
                    angle = span[0] + (number + 0.5) * step
                    x, y = point(radius, angle)
                    seat: SeatDoc = {"label": str(number + 1), "x": x, "y": y,
                                     "category": _arena_category(radius, angle, tier)}
                    if back_row and min(number, count - 1 - number) < (
                            ACCESSIBLE_PLACES_PER_ROW_END):
                        seat["accessible"] = True
                    seats.append(seat)
                rows.append({"label": labels[row_index], "rank": row_index, "seats": seats})
            section_name = (f"Floor {'ABCDEFGH'[index]}" if tier.lettered_rows
                            else f"{tier.prefix}{index + 1:02d}")
            sections.append({"name": section_name,
                             "rank": tier.rank_base + round(centre_degrees), "rows": rows})
    stage_x, stage_y = point(0.0, 0.0)
    stage_width = scale * 0.36
    stage_depth = scale * 0.07
    doc: SeatMapDoc = {
        "name": name, "city": city, "sections": sections, "ga_zones": [],
        "stage": {"x": round(stage_x - stage_width / 2, 1), "y": round(stage_y - stage_depth, 1),
                  "width": round(stage_width, 1), "height": round(stage_depth, 1)},
    }
    if country:
        doc["country"] = country
    return doc


def _arena_category(radius: float, angle: float, tier: _Tier) -> str:
    side = abs(angle) / math.radians(tier.half_span_degrees)
    distance = radius * (1.0 + 0.35 * side * side)
    for limit, category in _ARENA_CATEGORY_LIMITS:
        if distance < limit:
            return category
    return "D"


# ---------------------------------------------------------------- theatre and club


@dataclass(frozen=True, slots=True)
class _Level:
    """A theatre level: rows of growing length on gentle arcs facing the stage."""

    name: str
    rank: int
    rows: int
    first_row_seats: int
    first_row_y: float
    category_of_row: Callable[[int], str]
    accessible_rows: tuple[int, ...] = ()


SEAT_PITCH_UNITS = 19.0
ROW_PITCH_UNITS = 17.0
ROW_CURVE_RADIUS_UNITS = 900.0


def _level_sections(levels: tuple[_Level, ...]) -> list[SectionDoc]:
    sections: list[SectionDoc] = []
    centre_x = DRAWING_SIZE / 2
    for level in levels:
        labels = row_letters(level.rows, skip="I")
        rows: list[RowDoc] = []
        for row_index in range(level.rows):
            count = level.first_row_seats + row_index
            radius = ROW_CURVE_RADIUS_UNITS + row_index * ROW_PITCH_UNITS
            centre_y = level.first_row_y - ROW_CURVE_RADIUS_UNITS
            step = SEAT_PITCH_UNITS / radius
            seats: list[SeatDoc] = []
            for number in range(count):
                angle = (number - (count - 1) / 2) * step
                seat: SeatDoc = {
                    "label": str(number + 1),
                    "x": round(centre_x + radius * math.sin(angle), 1),
                    "y": round(centre_y + radius * math.cos(angle), 1),
                    "category": level.category_of_row(row_index),
                }
                if row_index in level.accessible_rows and min(number, count - 1 - number) < (
                        ACCESSIBLE_PLACES_PER_ROW_END):
                    seat["accessible"] = True
                seats.append(seat)
            rows.append({"label": labels[row_index], "rank": row_index, "seats": seats})
        sections.append({"name": level.name, "rank": level.rank, "rows": rows})
    return sections


def theatre(name: str, city: str, country: str = "") -> SeatMapDoc:
    """A proscenium theatre of about 1,200 seats: stalls, circle and balcony, rows A.. (no I)."""
    levels = (
        _Level("Stalls", 0, 20, 22, 130.0, lambda row: "A" if row < 10 else "B",
               accessible_rows=(19,)),
        _Level("Circle", 1, 12, 28, 520.0, lambda row: "A" if row < 4 else "B",
               accessible_rows=(0,)),
        _Level("Balcony", 2, 8, 20, 760.0, lambda row: "C" if row < 4 else "D"),
    )
    doc: SeatMapDoc = {
        "name": name, "city": city, "sections": _level_sections(levels), "ga_zones": [],
        "stage": {"x": 300.0, "y": 30.0, "width": 400.0, "height": 70.0},
    }
    if country:
        doc["country"] = country
    return doc


CLUB_FLOOR_CAPACITY = 800


def club(name: str, city: str, country: str = "") -> SeatMapDoc:
    """A standing club: a general-admission floor and a small seated balcony."""
    balcony = _Level("Balcony", 0, 3, 18, 700.0, lambda row: "A", accessible_rows=(0,))
    doc: SeatMapDoc = {
        "name": name, "city": city, "sections": _level_sections((balcony,)),
        "ga_zones": [{"name": "Floor", "capacity": CLUB_FLOOR_CAPACITY, "category": "GA"}],
        "stage": {"x": 350.0, "y": 40.0, "width": 300.0, "height": 80.0},
    }
    if country:
        doc["country"] = country
    return doc
