"""The seat-map document: how organizers upload a venue and how demo layouts describe one.

A seat map is plain JSON so it can travel through the API, sit in a JSONB
column and be drawn by the browser as it is::

    {"name": "Riverside Arena", "city": "Manchester", "country": "GB",
     "stage": {"x": 400, "y": 40, "width": 200, "height": 60},
     "sections": [{"name": "101", "rank": 100, "rows": [
         {"label": "1", "rank": 0, "seats": [
             {"label": "1", "x": 212.5, "y": 340.0, "category": "B", "accessible": true}]}]}],
     "ga_zones": [{"name": "Floor", "capacity": 800, "category": "GA"}]}

Seats are listed left to right in drawing order; neighbours in that list are
adjacent seats, which is what best-available keeps together. Ranks order
quality (lower is better). Coordinates live in a 0..1000 drawing space.
`country`, `stage` and `accessible` are optional; unknown keys are refused so a
typo ("acessible") cannot silently drop information.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn, NotRequired, TypedDict

from engine.errors import BookingError, ErrorCode
from engine.venue import GaZone, Row, Seat, Section, Venue

MAX_SEATS = 200_000
MAX_SECTIONS = 1_000
MAX_ROWS_PER_SECTION = 500
MAX_SEATS_PER_ROW = 1_000
MAX_GA_ZONES = 100
MAX_GA_ZONE_CAPACITY = 500_000
MAX_NAME_CHARS = 120
MAX_LABEL_CHARS = 16
MAX_CATEGORY_CHARS = 32
MAX_RANK = 1_000_000
DRAWING_SIZE = 1000.0
"""Coordinates (x, y, stage box) lie in [0, DRAWING_SIZE]."""


class SeatDoc(TypedDict):
    label: str
    x: float
    y: float
    category: str
    accessible: NotRequired[bool]


class RowDoc(TypedDict):
    label: str
    rank: int
    seats: list[SeatDoc]


class SectionDoc(TypedDict):
    name: str
    rank: int
    rows: list[RowDoc]


class GaZoneDoc(TypedDict):
    name: str
    capacity: int
    category: str


class StageDoc(TypedDict):
    x: float
    y: float
    width: float
    height: float


class SeatMapDoc(TypedDict):
    name: str
    city: str
    sections: list[SectionDoc]
    ga_zones: list[GaZoneDoc]
    country: NotRequired[str]
    stage: NotRequired[StageDoc]


_DOC_KEYS = frozenset({"name", "city", "country", "stage", "sections", "ga_zones"})
_STAGE_KEYS = frozenset({"x", "y", "width", "height"})
_SECTION_KEYS = frozenset({"name", "rank", "rows"})
_ROW_KEYS = frozenset({"label", "rank", "seats"})
_SEAT_KEYS = frozenset({"label", "x", "y", "category", "accessible"})
_SEAT_REQUIRED = ("label", "x", "y", "category")
_ZONE_KEYS = frozenset({"name", "capacity", "category"})


def _fail(path: str, reason: str) -> NoReturn:
    raise BookingError(
        ErrorCode.INVALID_REQUEST,
        f"Invalid seat map: {path or 'document'} {reason}.",
        {"path": path, "reason": reason},
    )


def _object(value: object, path: str, allowed: frozenset[str],
            required: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        _fail(path, "must be an object")
    for key in required:
        if key not in value:
            _fail(_join(path, key), "is required")
    if not allowed.issuperset(value):
        unknown = sorted(str(key) for key in value if key not in allowed)[0]
        _fail(_join(path, unknown), "is not a known field")
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _text(value: object, path: str, max_chars: int, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        _fail(path, "must be a string")
    if not allow_empty and not value.strip():
        _fail(path, "must not be empty")
    if len(value) > max_chars:
        _fail(path, f"must be at most {max_chars} characters")
    return value


def _integer(value: object, path: str, low: int, high: int) -> int:
    if type(value) is not int:
        _fail(path, "must be an integer")
    if not low <= value <= high:
        _fail(path, f"must be between {low} and {high}")
    return value


def _coordinate(value: object, path: str) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        _fail(path, "must be a number")
    if not (math.isfinite(value) and 0.0 <= value <= DRAWING_SIZE):
        _fail(path, f"must be a number between 0 and {DRAWING_SIZE:g}")


def _list(value: object, path: str, max_items: int, *, allow_empty: bool) -> list[Any]:
    if not isinstance(value, list):
        _fail(path, "must be a list")
    if not value and not allow_empty:
        _fail(path, "must not be empty")
    if len(value) > max_items:
        _fail(path, f"must have at most {max_items} items")
    return value


def validate_seatmap(doc: object) -> None:
    """Refuse a document that cannot become a venue, naming the first bad element.

    The error's details carry `path` (e.g. "sections[2].rows[0].seats[5].x") so
    an organizer's editor can highlight the element.
    """
    top = _object(doc, "", _DOC_KEYS, ("name", "city"))
    _text(top["name"], "name", MAX_NAME_CHARS)
    _text(top["city"], "city", MAX_NAME_CHARS, allow_empty=True)
    if "country" in top:
        _text(top["country"], "country", MAX_NAME_CHARS, allow_empty=True)
    if "stage" in top:
        stage = _object(top["stage"], "stage", _STAGE_KEYS, tuple(sorted(_STAGE_KEYS)))
        for key in ("x", "y", "width", "height"):
            _coordinate(stage[key], f"stage.{key}")
    sections = _list(top.get("sections", []), "sections", MAX_SECTIONS, allow_empty=True)
    zones = _list(top.get("ga_zones", []), "ga_zones", MAX_GA_ZONES, allow_empty=True)

    _check_size(sections)
    names: dict[str, str] = {}
    for s_index, section_value in enumerate(sections):
        s_path = f"sections[{s_index}]"
        section = _object(section_value, s_path, _SECTION_KEYS, ("name", "rank", "rows"))
        name = _text(section["name"], f"{s_path}.name", MAX_NAME_CHARS)
        if name in names:
            _fail(f"{s_path}.name", f"duplicates the name of {names[name]}")
        names[name] = s_path
        _integer(section["rank"], f"{s_path}.rank", 0, MAX_RANK)
        rows = _list(section["rows"], f"{s_path}.rows", MAX_ROWS_PER_SECTION, allow_empty=False)
        _validate_rows(rows, s_path)

    for z_index, zone_value in enumerate(zones):
        z_path = f"ga_zones[{z_index}]"
        zone = _object(zone_value, z_path, _ZONE_KEYS, ("name", "capacity", "category"))
        name = _text(zone["name"], f"{z_path}.name", MAX_NAME_CHARS)
        if name in names:
            _fail(f"{z_path}.name", f"duplicates the name of {names[name]}")
        names[name] = z_path
        _integer(zone["capacity"], f"{z_path}.capacity", 1, MAX_GA_ZONE_CAPACITY)
        _text(zone["category"], f"{z_path}.category", MAX_CATEGORY_CHARS)

    if not sections and not zones:
        _fail("sections", "must hold at least one seat, or ga_zones at least one zone")


def _check_size(sections: list[Any]) -> None:
    """Refuse an oversized venue before spending time on its seats one by one."""
    total = 0
    for s_index, section in enumerate(sections):
        rows = section.get("rows") if isinstance(section, dict) else None
        for r_index, row in enumerate(rows if isinstance(rows, list) else ()):
            seats = row.get("seats") if isinstance(row, dict) else None
            total += len(seats) if isinstance(seats, list) else 0
            if total > MAX_SEATS:
                _fail(f"sections[{s_index}].rows[{r_index}]",
                      f"brings the venue over the limit of {MAX_SEATS} seats")


def _validate_rows(rows: list[Any], s_path: str) -> None:
    row_labels: set[str] = set()
    for r_index, row_value in enumerate(rows):
        r_path = f"{s_path}.rows[{r_index}]"
        row = _object(row_value, r_path, _ROW_KEYS, ("label", "rank", "seats"))
        label = _text(row["label"], f"{r_path}.label", MAX_LABEL_CHARS)
        if label in row_labels:
            _fail(f"{r_path}.label", f"duplicates row {label!r} of this section")
        row_labels.add(label)
        _integer(row["rank"], f"{r_path}.rank", 0, MAX_RANK)
        seats = _list(row["seats"], f"{r_path}.seats", MAX_SEATS_PER_ROW, allow_empty=False)
        seat_labels: set[str] = set()
        for index, seat_value in enumerate(seats):
            path = f"{r_path}.seats[{index}]"
            # The hot loop: 200,000 seats must validate in a fraction of a second.
            if not (isinstance(seat_value, dict) and _SEAT_KEYS.issuperset(seat_value)
                    and all(key in seat_value for key in _SEAT_REQUIRED)):
                _object(seat_value, path, _SEAT_KEYS, _SEAT_REQUIRED)
            seat_label = _text(seat_value["label"], f"{path}.label", MAX_LABEL_CHARS)
            if seat_label in seat_labels:
                _fail(f"{path}.label", f"duplicates seat {seat_label!r} of this row")
            seat_labels.add(seat_label)
            _coordinate(seat_value["x"], f"{path}.x")
            _coordinate(seat_value["y"], f"{path}.y")
            _text(seat_value["category"], f"{path}.category", MAX_CATEGORY_CHARS)
            if "accessible" in seat_value and type(seat_value["accessible"]) is not bool:
                _fail(f"{path}.accessible", "must be true or false")


def venue_from_seatmap(
    doc: Mapping[str, Any],
    venue_id: int,
    seat_ids: Iterator[int],
    section_ids: Iterator[int],
    zone_ids: Iterator[int],
) -> Venue:
    """Build the engine's venue from a document, taking ids in document order.

    Ids come from the caller (the store draws them from its sequences) so the
    venue built here is the one the store writes, seat for seat.
    """
    validate_seatmap(doc)
    sections: list[Section] = []
    seats: list[Seat] = []
    for section_doc in doc.get("sections", []):
        section_id = next(section_ids)
        rows: list[Row] = []
        for row_doc in section_doc["rows"]:
            row_label = row_doc["label"]
            row_seat_ids: list[int] = []
            for seat_doc in row_doc["seats"]:
                seat_id = next(seat_ids)
                row_seat_ids.append(seat_id)
                seats.append(Seat(seat_id, section_id, row_label, seat_doc["label"],
                                  float(seat_doc["x"]), float(seat_doc["y"]),
                                  seat_doc["category"], seat_doc.get("accessible", False)))
            rows.append(Row(row_label, row_doc["rank"], tuple(row_seat_ids)))
        sections.append(Section(section_id, section_doc["name"], section_doc["rank"], tuple(rows)))
    zones = [GaZone(next(zone_ids), zone["name"], zone["capacity"], zone["category"])
             for zone in doc.get("ga_zones", [])]
    return Venue.build(venue_id, doc["name"], sections, seats, zones, city=doc.get("city", ""))


def seat_count(doc: Mapping[str, Any]) -> int:
    """Number of reserved seats in a (validated) document."""
    return sum(len(row["seats"]) for section in doc.get("sections", [])
               for row in section["rows"])


def categories(doc: Mapping[str, Any]) -> list[str]:
    """Seat and zone categories of a (validated) document, in first-seen order."""
    seen: dict[str, None] = {}
    for section in doc.get("sections", []):
        for row in section["rows"]:
            for seat in row["seats"]:
                seen.setdefault(seat["category"], None)
    for zone in doc.get("ga_zones", []):
        seen.setdefault(zone["category"], None)
    return list(seen)


MAX_PROBLEMS = 100


def _first_problem(doc: object) -> tuple[str, str] | None:
    try:
        validate_seatmap(doc)
    except BookingError as error:
        return str(error.details["path"]), str(error.details["reason"])
    return None


def seatmap_problems(doc: object, limit: int = MAX_PROBLEMS) -> list[tuple[str, str]]:
    """Every bad element an organizer's editor can point at, as (path, reason): the first one
    `validate_seatmap` names, then the first one of each row checked on its own, so an
    upload with mistakes in many rows shows them all at once instead of one per attempt.
    Empty when the document is valid."""
    first = _first_problem(doc)
    if first is None:
        return []
    problems = [first]
    sections = doc.get("sections") if isinstance(doc, dict) else None
    for s_index, section in enumerate(sections if isinstance(sections, list) else ()):
        rows = section.get("rows") if isinstance(section, dict) else None
        for r_index, row in enumerate(rows if isinstance(rows, list) else ()):
            alone = {"name": "row", "city": "", "sections": [{**section, "rows": [row]}]}
            problem = _first_problem(alone)
            if problem is None:
                continue
            path = problem[0].replace("sections[0].rows[0]", f"sections[{s_index}].rows[{r_index}]",
                                      1).replace("sections[0]", f"sections[{s_index}]", 1)
            if (path, problem[1]) not in problems:
                problems.append((path, problem[1]))
            if len(problems) >= limit:
                return problems
    return problems
