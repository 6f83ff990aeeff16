"""Booking requests as they travel through a partition queue, and what they turn into.

A request is plain data (JSON-safe dict payload) so it survives the queue; the
partition consumer turns it into an engine command at decision time. The API
parses bodies with `parse_hold_body` (into one of `HOLD_CHOICES`, which the API's
reservation schema is generated from) so a bad request is refused before it is
queued, with the field at fault named.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, assert_never

from engine.commands import (
    BlockSeats,
    Command,
    HoldBestAvailable,
    HoldGeneralAdmission,
    HoldSeats,
    LockTiers,
    OfferSeats,
    RefundOrder,
    ReleaseHold,
    SellHold,
    UnblockSeats,
)
from engine.errors import BookingError, ErrorCode
from engine.inventory import MAX_SEATS_PER_HOLD


class RequestKind(str, Enum):
    """What a booking request asks for; the `kind` of its payload, one engine command each."""

    HOLD = "hold"
    RELEASE = "release"
    SELL = "sell"
    REFUND = "refund"
    BLOCK = "block"
    UNBLOCK = "unblock"
    OFFER = "offer"
    """A sold-out waiting-list offer (params: quantity, ttl_seconds, tier, unlocked_tiers)."""
    LOCK_TIERS = "lock_tiers"
    """A presale was created (params: presale_id, tier_codes, starts_at, ends_at)."""


UNLOCKED_TIERS_PARAM = "unlocked_tiers"
"""The params key of the presale tiers a buyer was let into: set by the API and the offer
round from `presale_access`, never taken from a fan's body (the body parsers build params
from the fields they know)."""


REQUEST_ID_TIME_MARK = "t"


def new_request_id(event_id: int, now: float | None = None) -> str:
    """`<event id>-t<enqueue time, ms, 12 hex><80 random bits, 20 hex>`: the event is
    readable from the id, so keys need no lookup, and so is its age, so a request whose
    Redis record was lost can be told apart from one just made (`enqueued_at_of`).

    Only letters, digits, `-` and `_`: the id is also the RQ job id."""
    millis = int((time.time() if now is None else now) * 1000)
    return f"{event_id}-{REQUEST_ID_TIME_MARK}{millis:012x}{os.urandom(10).hex()}"


def enqueued_at_of(request_id: str) -> float | None:
    """When the request was enqueued (epoch seconds), from its id; None for ids made
    before ids carried the time, or not made by `new_request_id`."""
    _, _, rest = request_id.partition("-")
    stamp = rest[1:13]
    if not rest.startswith(REQUEST_ID_TIME_MARK) or len(stamp) != 12 \
            or not all(digit in "0123456789abcdef" for digit in stamp):
        return None
    return int(stamp, 16) / 1000


def event_of(request_id: str) -> int:
    head, _, _ = request_id.partition("-")
    if not (head.isascii() and head.isdigit()) or len(head) > 18:
        raise BookingError(ErrorCode.INVALID_REQUEST, "Malformed id.", {"id": request_id})
    return int(head)


@dataclass(frozen=True, slots=True)
class BookingRequest:
    request_id: str
    event_id: int
    buyer_id: int
    kind: str
    """A `RequestKind` value as it travelled; an unknown one is refused when decided."""
    params: dict[str, Any]
    enqueued_at: float

    def to_payload(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "event_id": self.event_id,
            "buyer_id": self.buyer_id,
            "kind": self.kind,
            "params": self.params,
            "enqueued_at": self.enqueued_at,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> BookingRequest:
        return cls(
            request_id=str(payload["request_id"]),
            event_id=int(payload["event_id"]),
            buyer_id=int(payload["buyer_id"]),
            kind=str(payload["kind"]),
            params=dict(payload.get("params") or {}),
            enqueued_at=float(payload.get("enqueued_at") or 0.0),
        )

    @property
    def hold_id(self) -> str:
        """A hold takes its request's id, so re-deciding a request cannot make a second hold."""
        return self.request_id

    def to_command(self) -> Command:
        try:
            kind = RequestKind(self.kind)
        except ValueError:
            raise BookingError(ErrorCode.INVALID_REQUEST,
                               f"Unknown request kind {self.kind!r}.") from None
        p = self.params
        match kind:
            case RequestKind.HOLD:
                unlocked = _tier_codes(p.get(UNLOCKED_TIERS_PARAM))
                if "seat_ids" in p:
                    return HoldSeats(self.request_id, self.hold_id, self.buyer_id,
                                     tuple(int(s) for s in p["seat_ids"]), unlocked)
                if "zone_id" in p:
                    return HoldGeneralAdmission(self.request_id, self.hold_id, self.buyer_id,
                                                int(p["zone_id"]), int(p["quantity"]), unlocked)
                return HoldBestAvailable(self.request_id, self.hold_id, self.buyer_id,
                                         int(p["quantity"]), _opt_int(p.get("section_id")),
                                         p.get("tier"), _opt_int(p.get("max_price_cents")),
                                         p.get("split_ok") is not False, unlocked)
            case RequestKind.RELEASE:
                return ReleaseHold(str(p["hold_id"]), self.buyer_id)
            case RequestKind.SELL:
                return SellHold(str(p["hold_id"]), str(p["order_id"]), self.buyer_id)
            case RequestKind.REFUND:
                return RefundOrder(str(p["order_id"]))
            case RequestKind.BLOCK:
                return BlockSeats(tuple(int(s) for s in p["seat_ids"]))
            case RequestKind.UNBLOCK:
                return UnblockSeats(tuple(int(s) for s in p["seat_ids"]))
            case RequestKind.OFFER:
                return OfferSeats(self.request_id, self.hold_id, self.buyer_id,
                                  int(p["quantity"]), float(p["ttl_seconds"]), p.get("tier"),
                                  _tier_codes(p.get(UNLOCKED_TIERS_PARAM)))
            case RequestKind.LOCK_TIERS:
                return LockTiers(int(p["presale_id"]), tuple(str(c) for c in p["tier_codes"]),
                                 float(p["starts_at"]), float(p["ends_at"]))
            case _:
                assert_never(kind)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _tier_codes(value: Any) -> frozenset[str]:
    if not value:
        return frozenset()
    if not isinstance(value, list):
        raise TypeError(f"{UNLOCKED_TIERS_PARAM} must be a list of tier codes")
    return frozenset(str(code) for code in value)


def _invalid(field: str, reason: str) -> BookingError:
    return BookingError(ErrorCode.INVALID_REQUEST, f"{field}: {reason}",
                        {"field": field, "reason": reason})


def _positive_int(body: dict[str, Any], field: str, path: str, maximum: int | None = None) -> int:
    value = body.get(field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(path, "must be an integer")
    if value < 1 or (maximum is not None and value > maximum):
        raise _invalid(path, f"must be between 1 and {maximum}" if maximum else "must be >= 1")
    return value


@dataclass(frozen=True, slots=True)
class ChosenSeats:
    """`{"seats": [ids]}`: hold these seats."""

    seats: Annotated[list[int], {"minItems": 1, "maxItems": MAX_SEATS_PER_HOLD,
                                 "uniqueItems": True}]
    """Seat ids of the event's venue."""

    def params(self) -> dict[str, Any]:
        return {"seat_ids": list(self.seats)}


@dataclass(frozen=True, slots=True)
class BestAvailable:
    quantity: Annotated[int, {"minimum": 1, "maximum": MAX_SEATS_PER_HOLD}]
    section_id: Annotated[int | None, {"minimum": 1}] = None
    """Only in this section."""
    tier: Annotated[str | None, {"minLength": 1}] = None
    """Only seats of this price tier (its code)."""
    max_price_cents: Annotated[int | None, {"minimum": 1}] = None
    """Only seats at or below this price."""
    split_ok: bool | None = None
    """False: only seats side by side in one row (default: apart if need be)."""


@dataclass(frozen=True, slots=True)
class BestAvailableChoice:
    """`{"best_available": {...}}`: the best seats together (or, failing that and unless
    `split_ok` is false, the best seats apart)."""

    best_available: BestAvailable

    def params(self) -> dict[str, Any]:
        choice = self.best_available
        params: dict[str, Any] = {"quantity": choice.quantity}
        for name in ("section_id", "tier", "max_price_cents", "split_ok"):
            if getattr(choice, name) is not None:
                params[name] = getattr(choice, name)
        return params


@dataclass(frozen=True, slots=True)
class GeneralAdmission:
    zone_id: Annotated[int, {"minimum": 1}]
    quantity: Annotated[int, {"minimum": 1, "maximum": MAX_SEATS_PER_HOLD}]


@dataclass(frozen=True, slots=True)
class GeneralAdmissionChoice:
    """`{"general_admission": {...}}`: standing places in a zone."""

    general_admission: GeneralAdmission

    def params(self) -> dict[str, Any]:
        return {"zone_id": self.general_admission.zone_id,
                "quantity": self.general_admission.quantity}


HoldChoice = ChosenSeats | BestAvailableChoice | GeneralAdmissionChoice
HOLD_CHOICES = (ChosenSeats, BestAvailableChoice, GeneralAdmissionChoice)
"""The reservation bodies, in the order the API documents them."""


def parse_hold_body(body: Any) -> dict[str, Any]:
    """Validate a reservation body; return the params of a `hold` request."""
    return parse_hold_choice(body).params()


def parse_hold_choice(body: Any) -> HoldChoice:
    """A reservation body as one of `HOLD_CHOICES`, the field at fault named if it is not."""
    if not isinstance(body, dict):
        raise _invalid("body", "must be a JSON object")
    shapes = [key for key in ("seats", "best_available", "general_admission") if key in body]
    if len(shapes) != 1:
        raise _invalid("body", "give exactly one of seats, best_available, general_admission")
    shape = shapes[0]
    if shape == "seats":
        seats = body["seats"]
        if (not isinstance(seats, list) or not seats
                or not all(isinstance(s, int) and not isinstance(s, bool) for s in seats)):
            raise _invalid("seats", "must be a non-empty list of seat ids")
        if len(seats) > MAX_SEATS_PER_HOLD:
            raise _invalid("seats", f"at most {MAX_SEATS_PER_HOLD} seats")
        if len(set(seats)) != len(seats):
            raise _invalid("seats", "lists a seat twice")
        return ChosenSeats(seats)
    spec = body[shape]
    if not isinstance(spec, dict):
        raise _invalid(shape, "must be an object")
    quantity = _positive_int(spec, "quantity", f"{shape}.quantity", MAX_SEATS_PER_HOLD)
    if shape == "general_admission":
        return GeneralAdmissionChoice(GeneralAdmission(
            _positive_int(spec, "zone_id", "general_admission.zone_id"), quantity))
    section_id = tier = max_price_cents = None
    if spec.get("section_id") is not None:
        section_id = _positive_int(spec, "section_id", "best_available.section_id")
    if spec.get("tier") is not None:
        if not isinstance(spec["tier"], str) or not spec["tier"]:
            raise _invalid("best_available.tier", "must be a tier code")
        tier = spec["tier"]
    if spec.get("max_price_cents") is not None:
        max_price_cents = _positive_int(spec, "max_price_cents",
                                        "best_available.max_price_cents")
    split_ok = None
    if spec.get("split_ok") is not None:
        if not isinstance(spec["split_ok"], bool):
            raise _invalid("best_available.split_ok", "must be true or false")
        split_ok = spec["split_ok"]
    unknown = set(spec) - {"quantity", "section_id", "tier", "max_price_cents", "split_ok"}
    if unknown:
        raise _invalid(f"best_available.{sorted(unknown)[0]}", "unknown field")
    return BestAvailableChoice(BestAvailable(quantity, section_id, tier, max_price_cents,
                                             split_ok))
