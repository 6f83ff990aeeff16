"""What a fan picks: seats from a seat map, a reservation body, a card. Pure and seeded.

The seat map is read leniently (any object with a seat id and an
`available` status counts), so a journey keeps working while the seat-map
document grows fields.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from loadtests.journeys.defaults import TEST_CARD_DECLINED, TEST_CARD_NO_FUNDS, TEST_CARD_OK

BEST_AVAILABLE_SHARE = 0.55
SPECIFIC_SEATS_SHARE = 0.30
"""The rest book general admission when the venue has it (else best available)."""
DECLINED_CARD_SHARE = 0.10
NO_FUNDS_CARD_SHARE = 0.05
MAX_QUANTITY = 4
_STATUS_KEYS = ("status", "state", "availability")


@dataclass
class SeatMapView:
    available_seats: list[int] = field(default_factory=list)
    """In map order (sections and rows as the venue lists them: best first)."""
    zones: dict[int, int] = field(default_factory=dict)
    """GA zone id -> places left."""


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def read_seat_map(doc: Any) -> SeatMapView:
    view = SeatMapView()
    for item in _objects(doc):
        status = next((item[k] for k in _STATUS_KEYS if isinstance(item.get(k), str)), None)
        seat_id = item.get("seat_id", item.get("id"))
        zone_key = item.get("id", item.get("zone_id"))
        if "capacity" in item and isinstance(zone_key, int):
            zone_id = int(item.get("zone_id", zone_key))
            left = item.get("available", item.get("remaining", item.get("capacity")))
            if isinstance(left, int) and left > 0:
                view.zones[zone_id] = left
        elif status == "available" and isinstance(seat_id, int):
            view.available_seats.append(seat_id)
    return view


def reservation_body(view: SeatMapView, rng: random.Random) -> dict[str, Any]:
    """best_available (most fans), a few specific seats, or GA, with 1-4 tickets."""
    quantity = rng.choice((1, 2, 2, 2, 3, 4))
    roll = rng.random()
    if roll < BEST_AVAILABLE_SHARE or (not view.available_seats and not view.zones):
        return {"best_available": {"quantity": quantity}}
    if roll < BEST_AVAILABLE_SHARE + SPECIFIC_SEATS_SHARE and len(view.available_seats) >= 1:
        # Fans crowd the best seats: pick from the front third of what is left.
        front = view.available_seats[:max(quantity, len(view.available_seats) // 3)]
        start = rng.randrange(0, max(1, len(front) - quantity + 1))
        return {"seats": front[start:start + quantity]}
    if view.zones:
        zone_id = rng.choice(sorted(view.zones))
        return {"general_admission": {"zone_id": zone_id,
                                      "quantity": min(quantity, view.zones[zone_id])}}
    return {"best_available": {"quantity": quantity}}


def tickets_wanted(body: dict[str, Any]) -> int:
    if "seats" in body:
        return len(body["seats"])
    spec = body.get("best_available") or body.get("general_admission") or {}
    return int(spec.get("quantity", 1))


def card_for(rng: random.Random) -> str:
    roll = rng.random()
    if roll < DECLINED_CARD_SHARE:
        return TEST_CARD_DECLINED
    if roll < DECLINED_CARD_SHARE + NO_FUNDS_CARD_SHARE:
        return TEST_CARD_NO_FUNDS
    return TEST_CARD_OK


WAITING_LIST_DONE = frozenset({"taken", "lapsed", "left", "expired", "cancelled"})
"""Entry statuses after which the fan has nothing more to wait for."""
OFFER_DECLINE_SHARE = 0.2
"""Offered fans who decline (release the offered hold): the offer lapses to the next fan."""
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""The characters presale codes are printed with (no 0/O, no 1/I)."""


class ListStep(str, Enum):
    WAIT = "wait"
    OFFER = "offer"
    DONE = "done"


def waiting_list_step(entry: dict[str, Any]) -> ListStep:
    """What a fan on the list does next: OFFER (an offer stands: buy or decline it), DONE
    (taken, lapsed, left) or WAIT (waiting, offering, or a status this journey does not know
    yet, such as a standing offer being prepared: the fan keeps watching)."""
    status = entry.get("status")
    if status == "offered" and entry.get("hold_id"):
        return ListStep.OFFER
    if status in WAITING_LIST_DONE:
        return ListStep.DONE
    return ListStep.WAIT


def mistyped_code(code: str, rng: random.Random) -> str:
    """The code with one character changed, as a fan copying it by hand might type it."""
    index = rng.randrange(len(code))
    other = rng.choice([c for c in CODE_ALPHABET if c != code[index].upper()])
    return code[:index] + other + code[index + 1:]
