"""A plain arena seat map for the benchmark, used until `engine.layouts.arena` exists.

Same document shape as every seat map (see `engine.seatmap`): a horseshoe of
lower-bowl sections (the better ones) and upper-bowl sections around a stage.
Sections facing the stage rank best; inside a section the front rows do.
"""

from __future__ import annotations

import math
from typing import Any

LOWER_SHARE = 0.4
"""Share of the sections in the lower bowl."""
_CENTER = 500.0


def arena_seatmap(name: str, city: str, target_seats: int = 20_000) -> dict[str, Any]:
    """A seat map with about `target_seats` seats (exactly, when it divides evenly)."""
    sections_count, seats_per_row = (40, 20) if target_seats >= 4_000 else (10, 10)
    rows_count = max(1, round(target_seats / (sections_count * seats_per_row)))
    lower_count = round(sections_count * LOWER_SHARE)
    sections = []
    for bowl, count, first_number, inner, outer in (
        ("lower", lower_count, 101, 120.0, 290.0),
        ("upper", sections_count - lower_count, 201, 310.0, 480.0),
    ):
        for index in range(count):
            sections.append(_section(bowl, index, count, first_number, inner, outer,
                                     rows_count, seats_per_row))
    return {
        "name": name,
        "city": city,
        "stage": {"x": 400.0, "y": 20.0, "width": 200.0, "height": 60.0},
        "sections": sections,
        "ga_zones": [],
    }


def _section(bowl: str, index: int, count: int, first_number: int, inner: float,
             outer: float, rows_count: int, seats_per_row: int) -> dict[str, Any]:
    # The horseshoe opens towards the stage: angles from -150 to +150 degrees.
    span = math.radians(300.0) / count
    start = math.radians(-150.0) + index * span
    off_center = abs(index - (count - 1) / 2.0)
    rank = (100 if bowl == "lower" else 200) + round(off_center * 2)
    rows = []
    for row_index in range(rows_count):
        radius = inner + (outer - inner) * (row_index + 0.5) / rows_count
        category = "C" if bowl == "upper" else ("A" if row_index < rows_count / 2 else "B")
        seats = []
        for seat_index in range(seats_per_row):
            angle = start + span * (seat_index + 0.5) / seats_per_row
            seats.append({
                "label": str(seat_index + 1),
                "x": round(_clamp(_CENTER + radius * math.sin(angle)), 2),
                "y": round(_clamp(_CENTER + radius * math.cos(angle)), 2),
                "category": category,
            })
        rows.append({"label": str(row_index + 1), "rank": row_index, "seats": seats})
    return {"name": str(first_number + index), "rank": rank, "rows": rows}


def _clamp(value: float) -> float:
    return min(1000.0, max(0.0, value))
