"""Seat-map documents: a bad one is refused with the path of the first bad element."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from engine.errors import BookingError, ErrorCode
from engine.seatmap import (
    MAX_SEATS,
    categories,
    seat_count,
    seatmap_problems,
    validate_seatmap,
    venue_from_seatmap,
)


def _doc() -> dict[str, Any]:
    seats = [{"label": str(n), "x": 10.0 * n, "y": 50, "category": "A"} for n in range(1, 5)]
    return {
        "name": "Hall", "city": "Porto",
        "sections": [
            {"name": "Left", "rank": 1, "rows": [
                {"label": "A", "rank": 0, "seats": copy.deepcopy(seats)},
                {"label": "B", "rank": 1, "seats": copy.deepcopy(seats)}]},
            {"name": "Right", "rank": 1, "rows": [
                {"label": "A", "rank": 0, "seats": copy.deepcopy(seats)}]},
        ],
        "ga_zones": [{"name": "Floor", "capacity": 100, "category": "GA"}],
    }


def _error(doc: object) -> BookingError:
    with pytest.raises(BookingError) as caught:
        validate_seatmap(doc)
    assert caught.value.code is ErrorCode.INVALID_REQUEST
    return caught.value


def test_a_valid_document_passes() -> None:
    validate_seatmap(_doc())


@pytest.mark.parametrize(("change", "path"), [
    (lambda d: d["sections"][1]["rows"][0]["seats"][2].update(x="12"),
     "sections[1].rows[0].seats[2].x"),
    (lambda d: d["sections"][1]["rows"][0]["seats"][2].update(x=1000.5),
     "sections[1].rows[0].seats[2].x"),
    (lambda d: d["sections"][0]["rows"][1]["seats"][3].pop("category"),
     "sections[0].rows[1].seats[3].category"),
    (lambda d: d["sections"][0]["rows"][1]["seats"][0].update(acessible=True),
     "sections[0].rows[1].seats[0].acessible"),
    (lambda d: d["sections"][0]["rows"][1]["seats"][0].update(accessible="yes"),
     "sections[0].rows[1].seats[0].accessible"),
    (lambda d: d["sections"][0]["rows"][1]["seats"][3].update(label="1"),
     "sections[0].rows[1].seats[3].label"),
    (lambda d: d["sections"][0]["rows"][1].update(label="A"), "sections[0].rows[1].label"),
    (lambda d: d["sections"][1].update(name="Left"), "sections[1].name"),
    (lambda d: d["ga_zones"][0].update(name="Left"), "ga_zones[0].name"),
    (lambda d: d["ga_zones"][0].update(capacity=0), "ga_zones[0].capacity"),
    (lambda d: d["ga_zones"][0].update(capacity=True), "ga_zones[0].capacity"),
    (lambda d: d["sections"][0].update(rank=-1), "sections[0].rank"),
    (lambda d: d["sections"][0]["rows"][0].update(seats=[]), "sections[0].rows[0].seats"),
    (lambda d: d["sections"][0].update(rows="A"), "sections[0].rows"),
    (lambda d: d.update(name=""), "name"),
    (lambda d: d.pop("city"), "city"),
    (lambda d: d.update(stage={"x": 1, "y": 1, "width": 1}), "stage.height"),
])
def test_errors_point_at_the_first_bad_element(change: Any, path: str) -> None:
    doc = _doc()
    change(doc)
    error = _error(doc)
    assert error.details["path"] == path, error.message
    assert error.details["reason"] and path in error.message


def test_a_venue_needs_seats_or_a_zone() -> None:
    assert _error({"name": "Empty", "city": "", "sections": [], "ga_zones": []}
                  ).details["path"] == "sections"
    assert _error([]).details["path"] == ""


def test_the_seat_limit_is_checked_before_the_seats() -> None:
    seats = [{"label": str(n), "x": 1, "y": 1, "category": "A"} for n in range(1000)]
    rows = [{"label": f"R{r}", "rank": 0, "seats": seats} for r in range(100)]  # shared lists
    sections = [{"name": f"S{s}", "rank": 0, "rows": rows} for s in range(3)]
    error = _error({"name": "Too big", "city": "", "sections": sections})
    assert error.details["path"] == "sections[2].rows[0]"
    assert MAX_SEATS == 200_000


def test_venue_takes_ids_in_document_order() -> None:
    doc = _doc()
    venue = venue_from_seatmap(doc, 7, itertools.count(100), itertools.count(10),
                               itertools.count(50))
    assert venue.venue_id == 7 and venue.city == "Porto"
    assert [s.section_id for s in venue.sections] == [10, 11]
    left_rows = venue.sections[0].rows
    assert left_rows[0].seat_ids == (100, 101, 102, 103)
    assert left_rows[1].seat_ids == (104, 105, 106, 107)
    assert venue.seats[104].row_label == "B" and venue.seats[104].label == "1"
    assert venue.ga_zones[0].zone_id == 50 and venue.capacity == 12 + 100
    assert seat_count(doc) == 12 and categories(doc) == ["A", "GA"]


def test_venue_from_seatmap_validates_first() -> None:
    doc = _doc()
    doc["sections"][0]["rows"][0]["seats"][0]["y"] = -1
    with pytest.raises(BookingError):
        venue_from_seatmap(doc, 1, itertools.count(1), itertools.count(1), itertools.count(1))


def test_problems_name_a_bad_element_in_every_row_at_once() -> None:
    assert seatmap_problems(_doc()) == []
    doc = _doc()
    doc["sections"][0]["rows"][0]["seats"][1]["x"] = 5000
    doc["sections"][0]["rows"][1]["seats"][3]["category"] = ""
    doc["sections"][1]["rows"][0]["label"] = ""
    assert [path for path, _ in seatmap_problems(doc)] == [
        "sections[0].rows[0].seats[1].x", "sections[0].rows[1].seats[3].category",
        "sections[1].rows[0].label"]
    assert seatmap_problems(doc, limit=2)[-1][0] == "sections[0].rows[1].seats[3].category"
    assert seatmap_problems([]) == [("", "must be an object")], "not even a document"
