"""Validating what organizers send: event fields and seat-map uploads.

Every refusal names the field (`details.field`, e.g. `price_tiers[1].price_cents`
or `sections[2].rows[0].seats[5].x`) and says why, so an organizer's form or
editor can point at it.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from aiohttp import web

from api.fan.catalog import CATEGORIES_PATTERN
from api.http.body_schema import MAY_BE_LEFT_OUT, Keywords, object_schema
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError, parse_json_object
from api.http.openapi_spec import ID_SCHEMA, param
from api.http.params import body_int, body_text, invalid, parse_datetime

EVENT_FIELDS = ("name", "description", "category", "venue_id", "starts_at", "onsale_at",
                "price_tiers", "performers", "currency", "buyer_limit", "hold_ttl_seconds")
REQUIRED_EVENT_FIELDS = ("name", "category", "venue_id", "starts_at", "onsale_at",
                         "price_tiers")
MAX_TIERS = 20
MAX_PERFORMERS = 20
MAX_PRICE_CENTS = 100_000_000
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_PERFORMER_KINDS = ("artist", "band", "team", "comedian", "company", "speaker", "dj")


def _tiers(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        invalid("price_tiers", "must be a list of {category, price_cents, name?, code?}")
    if not 1 <= len(value) <= MAX_TIERS:
        invalid("price_tiers", f"must hold 1 to {MAX_TIERS} tiers")
    tiers: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        path = f"price_tiers[{index}]"
        if not isinstance(item, dict):
            invalid(path, "must be an object")
        unknown = set(item) - {"category", "price_cents", "name", "code"}
        if unknown:
            invalid(f"{path}.{sorted(unknown)[0]}", "is not a known field")
        category = item.get("category")
        if not isinstance(category, str) or not 0 < len(category.strip()) <= 32:
            invalid(f"{path}.category", "must be a seat category of 1 to 32 characters")
        price = item.get("price_cents")
        if type(price) is not int or not 0 <= price <= MAX_PRICE_CENTS:
            invalid(f"{path}.price_cents", f"must be an integer from 0 to {MAX_PRICE_CENTS}")
        code = item.get("code", category)
        if not isinstance(code, str) or not _CODE.match(code):
            invalid(f"{path}.code", "must be 1 to 32 letters, digits, - or _")
        name = item.get("name", f"Category {category}")
        if not isinstance(name, str) or not 0 < len(name.strip()) <= 80:
            invalid(f"{path}.name", "must be a string of 1 to 80 characters")
        tiers.append({"category": category, "price_cents": price, "code": code,
                      "name": name.strip()})
    for key in ("category", "code"):
        seen = [tier[key] for tier in tiers]
        for index, item in enumerate(seen):
            if item in seen[:index]:
                invalid(f"price_tiers[{index}].{key}", f"repeats {item!r}")
    return tiers


def _performers(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        invalid("performers", "must be a list of names or {name, kind} or {performer_id}")
    if len(value) > MAX_PERFORMERS:
        invalid("performers", f"must hold at most {MAX_PERFORMERS} performers")
    performers: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        path = f"performers[{index}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            invalid(path, "must be a name or an object")
        if "performer_id" in item:
            if set(item) != {"performer_id"}:
                invalid(path, "give performer_id alone, or name and kind")
            if type(item["performer_id"]) is not int or item["performer_id"] < 1:
                invalid(f"{path}.performer_id", "must be a positive integer")
            performers.append({"performer_id": item["performer_id"]})
            continue
        unknown = set(item) - {"name", "kind"}
        if unknown:
            invalid(f"{path}.{sorted(unknown)[0]}", "is not a known field")
        name = item.get("name")
        if not isinstance(name, str) or not 0 < len(name.strip()) <= 120:
            invalid(f"{path}.name", "must be a name of 1 to 120 characters")
        kind = item.get("kind", "artist")
        if kind not in _PERFORMER_KINDS:
            invalid(f"{path}.kind", f"must be one of {', '.join(_PERFORMER_KINDS)}")
        performers.append({"name": name.strip(), "kind": kind})
    return performers


def event_fields(body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """The event fields in `body`, validated; all required ones unless `partial`."""
    unknown = sorted(set(body) - set(EVENT_FIELDS))
    if unknown:
        invalid(unknown[0], "is not a known field")
    if not partial:
        for name in REQUIRED_EVENT_FIELDS:
            if body.get(name) is None:
                invalid(name, "is required")
    elif not body:
        invalid("body", "must change at least one field")
    fields: dict[str, Any] = {}
    if "name" in body:
        fields["name"] = body_text(body, "name", max_chars=200)
    if "description" in body:
        fields["description"] = body_text(body, "description", max_chars=5000,
                                          allow_empty=True)
    if "category" in body:
        category = body_text(body, "category", max_chars=32)
        if not re.match(CATEGORIES_PATTERN, category or ""):
            invalid("category", "must be a lowercase name such as concert or sports")
        fields["category"] = category
    if "venue_id" in body:
        fields["venue_id"] = body_int(body, "venue_id", low=1, high=2**62)
    for name in ("starts_at", "onsale_at"):
        if name in body:
            fields[name] = parse_datetime(body[name], name)
    if "price_tiers" in body:
        fields["price_tiers"] = _tiers(body["price_tiers"])
    if "performers" in body:
        fields["performers"] = _performers(body["performers"])
    if "currency" in body:
        currency = body.get("currency")
        if not isinstance(currency, str) or not _CURRENCY.match(currency):
            invalid("currency", "must be a three-letter ISO 4217 code such as EUR")
        fields["currency"] = currency
    if "buyer_limit" in body:
        fields["buyer_limit"] = body_int(body, "buyer_limit", low=1, high=100)
    if "hold_ttl_seconds" in body:
        fields["hold_ttl_seconds"] = body_int(body, "hold_ttl_seconds", low=60, high=3600)
    if ("starts_at" in fields and "onsale_at" in fields
            and fields["onsale_at"] > fields["starts_at"]):
        invalid("onsale_at", "must not be after starts_at")
    return fields


_CLOSED = Keywords(additionalProperties=False)


@dataclass(frozen=True)
class PriceTier:
    """One price tier of an event: the seats of one category at one price."""

    category: Annotated[str, {"minLength": 1, "maxLength": 32}]
    """The venue's seat category it prices."""
    price_cents: Annotated[int, {"minimum": 0, "maximum": MAX_PRICE_CENTS}]
    code: Annotated[str, {"pattern": _CODE.pattern}] = field(default_factory=str)
    """The tier's code; the category when left out."""
    name: Annotated[str, {"minLength": 1, "maxLength": 80}] = field(default_factory=str)
    """Shown to fans; `Category <category>` when left out."""


@dataclass(frozen=True)
class NamedPerformer:
    """A performer by name (found or created)."""

    name: Annotated[str, {"minLength": 1, "maxLength": 120}]
    kind: Annotated[str, {"enum": list(_PERFORMER_KINDS)}] = "artist"


@dataclass(frozen=True)
class KnownPerformer:
    """A performer already in the catalog."""

    performer_id: Annotated[int, {"minimum": 1}]


Performer = (Annotated[str, Keywords(minLength=1, maxLength=120)]
             | Annotated[NamedPerformer, _CLOSED] | Annotated[KnownPerformer, _CLOSED])


@dataclass(frozen=True)
class EventFields:
    """An event's fields as organizers send them: all of the required ones to create a
    draft (`REQUIRED_EVENT_FIELDS`), at least one to change it. None: left out."""

    name: Annotated[str | None, MAY_BE_LEFT_OUT, {"minLength": 1, "maxLength": 200}] = None
    description: Annotated[str | None, MAY_BE_LEFT_OUT, {"maxLength": 5000}] = None
    category: Annotated[str | None, MAY_BE_LEFT_OUT, {"pattern": CATEGORIES_PATTERN}] = None
    venue_id: Annotated[int | None, MAY_BE_LEFT_OUT, {"minimum": 1}] = None
    starts_at: Annotated[datetime | None, MAY_BE_LEFT_OUT] = None
    onsale_at: Annotated[datetime | None, MAY_BE_LEFT_OUT] = None
    """Not after starts_at."""
    price_tiers: Annotated[list[Annotated[PriceTier, _CLOSED]] | None, MAY_BE_LEFT_OUT,
                           {"minItems": 1, "maxItems": MAX_TIERS}] = None
    performers: Annotated[list[Performer] | None, MAY_BE_LEFT_OUT,
                          {"maxItems": MAX_PERFORMERS}] = None
    """Names, `{name, kind}`, or `{performer_id}`."""
    currency: Annotated[str | None, MAY_BE_LEFT_OUT, {"pattern": _CURRENCY.pattern}] = None
    buyer_limit: Annotated[int | None, MAY_BE_LEFT_OUT, {"minimum": 1, "maximum": 100}] = None
    hold_ttl_seconds: Annotated[int | None, MAY_BE_LEFT_OUT,
                                {"minimum": 60, "maximum": 3600}] = None

    @classmethod
    def from_json(cls, body: dict[str, Any], *, partial: bool) -> EventFields:
        """The event fields in `body`, validated (`event_fields`)."""
        fields = event_fields(body, partial=partial)
        if "price_tiers" in fields:
            fields["price_tiers"] = [PriceTier(**tier) for tier in fields["price_tiers"]]
        if "performers" in fields:
            fields["performers"] = [KnownPerformer(**item) if "performer_id" in item
                                    else NamedPerformer(**item)
                                    for item in fields["performers"]]
        return cls(**fields)

    def given(self) -> dict[str, Any]:
        """The fields sent, as the store takes them (tiers and performers as mappings)."""
        return {item.name: _plain(getattr(self, item.name)) for item in dataclasses.fields(self)
                if getattr(self, item.name) is not None}


def _plain(value: object) -> object:
    if isinstance(value, list):
        return [dataclasses.asdict(item)
                if isinstance(item, PriceTier | NamedPerformer | KnownPerformer) else item
                for item in value]
    return value


async def read_seatmap(request: web.Request, max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object, allowing up to `max_bytes` (seat maps are large)."""
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise ApiError(ApiErrorCode.PAYLOAD_TOO_LARGE,
                       f"a seat map of {declared} bytes exceeds the limit of {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(ApiErrorCode.PAYLOAD_TOO_LARGE,
                           f"a seat map may be at most {max_bytes} bytes")
        chunks.append(chunk)
    return parse_json_object(b"".join(chunks), request.charset)


_SEAT = {"type": "object", "required": ["label", "x", "y", "category"],
         "additionalProperties": False,
         "properties": {"label": {"type": "string"}, "x": {"type": "number"},
                        "y": {"type": "number"}, "category": {"type": "string"},
                        "accessible": {"type": "boolean"}}}

FIELD_SCHEMAS: dict[str, Any] = {
    "EventInput": {**object_schema(EventFields), "required": list(REQUIRED_EVENT_FIELDS)},
    "EventPatch": {**object_schema(EventFields), "minProperties": 1},
    # A seat-map document is the engine's format: `engine.store.catalog.create_venue`
    # validates it element by element and stores it; no dataclass of ours parses it, so
    # its schema is written by hand.
    "SeatMap": {
        "type": "object", "required": ["name", "city"], "additionalProperties": False,
        "properties": {
            "name": {"type": "string"}, "city": {"type": "string"},
            "country": {"type": "string"},
            "stage": {"type": "object", "properties": {
                "x": {"type": "number"}, "y": {"type": "number"},
                "width": {"type": "number"}, "height": {"type": "number"}}},
            "sections": {"type": "array", "items": {
                "type": "object", "required": ["name", "rank", "rows"],
                "properties": {"name": {"type": "string"}, "rank": {"type": "integer"},
                               "rows": {"type": "array", "items": {
                                   "type": "object", "required": ["label", "rank", "seats"],
                                   "properties": {"label": {"type": "string"},
                                                  "rank": {"type": "integer"},
                                                  "seats": {"type": "array",
                                                            "items": _SEAT}}}}}}},
            "ga_zones": {"type": "array", "items": {
                "type": "object", "required": ["name", "capacity", "category"],
                "properties": {"name": {"type": "string"}, "capacity": {"type": "integer"},
                               "category": {"type": "string"}}}},
        },
    },
}


SIGNED_IN_ORGANIZERS: dict[str, Any] = {"signed_in": True, "tags": ["Organizers"]}
"""What every organizer operation's OpenAPI entry says: sign-in needed, the Organizers tag."""
EVENT_ID_PARAM = param("event_id", "path", ID_SCHEMA, "The event.")
