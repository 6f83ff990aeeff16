"""The physical venue: sections, rows, seats and general-admission zones.

A venue is immutable once built. Seats are identified by an integer id that is
unique across the whole catalog (the store's primary key), so an event's
inventory can refer to them without carrying the venue around.

Quality order drives best-available: sections have a `rank` (lower is better),
rows inside a section have a `rank` too (lower is better, usually the row
nearest the stage), and inside a row the seats nearest the row's middle are best.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Seat:
    seat_id: int
    section_id: int
    row_label: str
    label: str
    x: float
    y: float
    category: str
    accessible: bool = False


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    rank: int
    seat_ids: tuple[int, ...]
    """Left to right as seen from the stage; adjacency means neighbours in this tuple."""


@dataclass(frozen=True, slots=True)
class Section:
    section_id: int
    name: str
    rank: int
    rows: tuple[Row, ...]


@dataclass(frozen=True, slots=True)
class GaZone:
    zone_id: int
    name: str
    capacity: int
    category: str


@dataclass(frozen=True)
class Venue:
    venue_id: int
    name: str
    sections: tuple[Section, ...]
    seats: dict[int, Seat]
    ga_zones: tuple[GaZone, ...] = ()
    city: str = ""
    rows_by_quality: tuple[tuple[int, Row], ...] = field(default=(), compare=False)
    """(section_id, row) pairs, best first; filled by `build`."""

    @property
    def capacity(self) -> int:
        return len(self.seats) + sum(zone.capacity for zone in self.ga_zones)

    def zone(self, zone_id: int) -> GaZone | None:
        for zone in self.ga_zones:
            if zone.zone_id == zone_id:
                return zone
        return None

    @classmethod
    def build(
        cls,
        venue_id: int,
        name: str,
        sections: Iterable[Section],
        seats: Iterable[Seat],
        ga_zones: Iterable[GaZone] = (),
        city: str = "",
    ) -> Venue:
        """Assemble a venue and precompute the quality order of its rows."""
        section_tuple = tuple(sections)
        seat_map = {seat.seat_id: seat for seat in seats}
        ranked = sorted(
            ((section.rank, row.rank, section.section_id, row) for section in section_tuple
             for row in section.rows),
            key=lambda item: (item[0], item[1], item[2]),
        )
        return cls(
            venue_id=venue_id,
            name=name,
            sections=section_tuple,
            seats=seat_map,
            ga_zones=tuple(ga_zones),
            city=city,
            rows_by_quality=tuple((section_id, row) for _, _, section_id, row in ranked),
        )
