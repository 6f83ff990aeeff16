"""Demo layouts are valid seat maps of the sizes and shapes the demo promises."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from engine import layouts
from engine.seatmap import DRAWING_SIZE, seat_count, validate_seatmap, venue_from_seatmap


def _seats(doc: layouts.SeatMapDoc) -> list[layouts.SeatDoc]:
    return [seat for section in doc["sections"] for row in section["rows"]
            for seat in row["seats"]]


def test_arena_is_a_bowl_of_about_twenty_thousand_seats() -> None:
    doc = layouts.arena("Riverside Arena", "Manchester")
    validate_seatmap(doc)
    assert 20_000 <= seat_count(doc) <= 20_500
    assert 20 <= len(doc["sections"]) <= 40
    seats = _seats(doc)
    assert set(Counter(seat["category"] for seat in seats)) == {"A", "B", "C", "D"}
    assert 0 < sum(seat.get("accessible", False) for seat in seats) < 200
    assert all(0 <= seat["x"] <= DRAWING_SIZE and 0 <= seat["y"] <= DRAWING_SIZE
               for seat in seats)


def test_arena_prices_fall_with_distance_from_the_stage() -> None:
    doc = layouts.arena("A", "B", target_seats=5_000)
    floor, *_, upper = doc["sections"]
    assert {s["category"] for row in floor["rows"] for s in row["seats"]} == {"A"}
    assert {s["category"] for s in upper["rows"][-1]["seats"]} == {"D"}


@pytest.mark.timeout(60)  # bounds a hang; the build time is `onsale bench engine`'s figure
def test_a_50k_arena_builds_into_a_venue() -> None:
    doc = layouts.arena("Big", "Leeds", target_seats=50_000)
    venue = venue_from_seatmap(doc, 1, itertools.count(1), itertools.count(1),
                               itertools.count(1))
    assert len(venue.seats) >= 50_000


def test_theatre_has_stalls_circle_and_balcony() -> None:
    doc = layouts.theatre("The Alder", "London")
    validate_seatmap(doc)
    assert [s["name"] for s in doc["sections"]] == ["Stalls", "Circle", "Balcony"]
    assert 1_100 <= seat_count(doc) <= 1_300
    stalls_rows = [row["label"] for row in doc["sections"][0]["rows"]]
    assert stalls_rows[:3] == ["A", "B", "C"] and "I" not in stalls_rows


def test_club_is_a_standing_floor_with_a_small_balcony() -> None:
    doc = layouts.club("Kellerhaus", "Berlin", country="DE")
    validate_seatmap(doc)
    assert doc["ga_zones"] == [{"name": "Floor", "capacity": 800, "category": "GA"}]
    assert 0 < seat_count(doc) <= 100 and doc["country"] == "DE"


def test_layouts_are_deterministic() -> None:
    assert layouts.arena("A", "B", 1_000) == layouts.arena("A", "B", 1_000)


def test_row_letters_continue_past_z() -> None:
    assert layouts.row_letters(28)[-3:] == ["Z", "AA", "AB"]
    assert "I" not in layouts.row_letters(30, skip="I")
