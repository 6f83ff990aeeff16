"""The benchmark's workload: one hot event, and a deterministic stream of buyers.

The venue is the demo arena of `engine.layouts` (about 20,000 seats: a floor,
a lower and an upper bowl), built with seat ids 1..N in document order.

The same `WorkloadSpec` builds the same venue and the same request stream in
every process. Request `seq` of the stream is a pure function of the seed and
`seq`, so whichever client process issues arrival number `seq` sends the same
request, and every contender faces the same sequence of requests in arrival
order.

Each request comes from a distinct buyer (the per-buyer limit never applies)
and asks for 1-6 seats, uniformly. With probability `hot_share` it asks for
the best available seats in one of the hot sections (the best sections that
together hold `hot_fraction` of the seats, picked in proportion to their
size), otherwise for the best available seats anywhere.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from dataclasses import dataclass, field
from typing import Any

from engine.layouts import arena
from engine.seatmap import venue_from_seatmap
from engine.venue import Venue

ARENA_SEATS = 20_000
MAX_QUANTITY = 6
HOT_SHARE = 0.8
HOT_FRACTION = 0.1
VENUE_ID = 1
EVENT_ID = 1
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class BookingRequest:
    """One buyer asking for the best `quantity` free seats, in one section or anywhere."""

    request_id: str
    seq: int
    """Arrival sequence number: the global order in which the harness issued requests."""
    buyer_id: int
    quantity: int
    section_id: int | None
    """A section id of `workload.venue`; None means anywhere in the venue."""
    section_name: str | None


@dataclass(frozen=True)
class WorkloadSpec:
    """Everything that determines a workload; small and picklable for client processes."""

    seed: int = 20_240_601
    target_seats: int = ARENA_SEATS
    hot_share: float = HOT_SHARE
    hot_fraction: float = HOT_FRACTION


@dataclass(frozen=True)
class BenchSeat:
    seat_id: int
    section_id: int
    quality: int
    """Position in best-first order over the whole venue (0 is the best seat)."""


@dataclass(frozen=True)
class Workload:
    spec: WorkloadSpec
    seatmap: dict[str, Any]
    """The venue as a seat-map document (what an organizer would upload)."""
    venue: Venue
    """Built from `seatmap` with seat ids 1..N and section ids 1..S in document order."""
    seats: tuple[BenchSeat, ...]
    """Every seat, best first (section rank, row rank, then nearest the row's middle)."""
    hot_section_ids: tuple[int, ...]
    _hot_cumulative: tuple[int, ...] = field(repr=False)
    _section_names: dict[int, str] = field(repr=False)

    @property
    def capacity(self) -> int:
        return len(self.seats)

    @property
    def hot_seats(self) -> int:
        return self._hot_cumulative[-1] if self._hot_cumulative else 0

    def section_name(self, section_id: int) -> str:
        return self._section_names[section_id]

    def request(self, seq: int) -> BookingRequest:
        """Arrival number `seq` (1, 2, ...) of the request stream."""
        bits = _splitmix64(self.spec.seed * 0x9E3779B97F4A7C15 + seq)
        quantity = 1 + bits % MAX_QUANTITY
        hot = ((bits >> 8) & 0xFFFF) < self.spec.hot_share * 0x10000
        section_id: int | None = None
        if hot and self.hot_section_ids:
            point = ((bits >> 24) & 0xFFFFFFFF) * self.hot_seats >> 32
            index = bisect.bisect_right(self._hot_cumulative, point)
            section_id = self.hot_section_ids[index]
        return BookingRequest(
            request_id=f"r{seq}",
            seq=seq,
            buyer_id=seq,
            quantity=quantity,
            section_id=section_id,
            section_name=None if section_id is None else self._section_names[section_id],
        )


@functools.lru_cache(maxsize=4)
def build_workload(spec: WorkloadSpec) -> Workload:
    seatmap = dict(arena("Bench Arena", "Benchville", target_seats=spec.target_seats))
    venue = venue_from_seatmap(seatmap, VENUE_ID, itertools.count(1), itertools.count(1),
                               itertools.count(1))
    seats = tuple(_seats_best_first(venue))
    seats_by_section: dict[int, int] = {}
    for seat in seats:
        seats_by_section[seat.section_id] = seats_by_section.get(seat.section_id, 0) + 1
    hot: list[int] = []
    cumulative: list[int] = []
    total = 0
    target = spec.hot_fraction * len(seats)
    for section_id in _sections_best_first(venue):
        size = seats_by_section[section_id]
        # Whole sections only: stop where the share comes closest to the target.
        if hot and abs(total + size - target) >= abs(total - target):
            break
        hot.append(section_id)
        total += size
        cumulative.append(total)
    return Workload(
        spec=spec,
        seatmap=seatmap,
        venue=venue,
        seats=seats,
        hot_section_ids=tuple(hot),
        _hot_cumulative=tuple(cumulative),
        _section_names={section.section_id: section.name for section in venue.sections},
    )


def _sections_best_first(venue: Venue) -> list[int]:
    return list(dict.fromkeys(section_id for section_id, _row in venue.rows_by_quality))


def _seats_best_first(venue: Venue) -> list[BenchSeat]:
    quality = itertools.count()
    ordered: list[BenchSeat] = []
    for section_id, row in venue.rows_by_quality:
        middle = (len(row.seat_ids) - 1) / 2.0
        by_middle = sorted(range(len(row.seat_ids)), key=lambda i: (abs(i - middle), i))
        ordered.extend(BenchSeat(row.seat_ids[i], section_id, next(quality)) for i in by_middle)
    return ordered


def _splitmix64(value: int) -> int:
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 31)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)
