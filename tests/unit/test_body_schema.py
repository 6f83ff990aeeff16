"""Request body schemas come from the dataclasses the handlers parse into.

Guards the contract that the OpenAPI document describes what the code reads: a field
added to a body's dataclass appears in its schema with its type, default and docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Annotated

import pytest

from api.http.body_schema import MAY_BE_LEFT_OUT, Keywords, object_schema, type_schema


class Colour(str, Enum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True)
class Inner:
    size: int


@dataclass(frozen=True)
class Sample:
    name: str
    """What it is called."""
    ratio: float = 0.5
    colour: Colour = Colour.RED
    tags: list[str] = field(default_factory=list)
    inner: Inner | None = None


def test_a_dataclass_becomes_an_object_schema_with_types_defaults_and_docs() -> None:
    schema = object_schema(Sample)

    assert schema["required"] == ["name"] and schema["additionalProperties"] is False
    assert schema["properties"]["name"] == {"type": "string", "description": "What it is called."}
    assert schema["properties"]["ratio"] == {"type": "number", "default": 0.5}
    assert schema["properties"]["colour"] == {"type": "string", "enum": ["red", "blue"],
                                              "default": "red"}
    assert schema["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert schema["properties"]["inner"]["type"] == ["object", "null"]
    assert schema["properties"]["inner"]["properties"] == {"size": {"type": "integer"}}


def test_a_patch_body_requires_nothing_and_an_open_body_allows_more() -> None:
    assert "required" not in object_schema(Sample, all_optional=True)
    assert "additionalProperties" not in object_schema(Sample, closed=False)


def test_an_unknown_annotation_is_refused_rather_than_documented_wrongly() -> None:
    with pytest.raises(TypeError):
        type_schema(bytes)


def test_reservation_bodies_parse_into_the_choices_their_schema_lists() -> None:
    from workers.booking_requests import (
        HOLD_CHOICES,
        BestAvailable,
        BestAvailableChoice,
        ChosenSeats,
        parse_hold_body,
        parse_hold_choice,
    )

    assert parse_hold_choice({"seats": [3, 4]}) == ChosenSeats([3, 4])
    assert parse_hold_choice({"best_available": {"quantity": 2, "tier": "F"}}) == \
        BestAvailableChoice(BestAvailable(2, None, "F", None))
    assert parse_hold_body({"best_available": {"quantity": 2, "tier": "F"}}) == {
        "quantity": 2, "tier": "F"}
    assert parse_hold_body({"general_admission": {"zone_id": 9, "quantity": 3}}) == {
        "zone_id": 9, "quantity": 3}
    documented = [set(object_schema(choice)["required"]) for choice in HOLD_CHOICES]
    assert documented == [{"seats"}, {"best_available"}, {"general_admission"}]


@dataclass(frozen=True)
class Change:
    starts_at: Annotated[datetime | None, MAY_BE_LEFT_OUT] = None
    tags: Annotated[list[Annotated[str, Keywords(maxLength=9)] | Inner] | None,
                    MAY_BE_LEFT_OUT, {"maxItems": 3}] = None


def test_a_field_that_may_be_left_out_is_optional_but_not_nullable() -> None:
    schema = object_schema(Change)
    assert "required" not in schema
    assert schema["properties"]["starts_at"] == {"type": "string", "format": "date-time"}
    assert schema["properties"]["tags"] == {
        "type": "array", "maxItems": 3,
        "items": {"oneOf": [{"type": "string", "maxLength": 9},
                            {"type": "object", "properties": {"size": {"type": "integer"}},
                             "required": ["size"]}]}}


def test_event_bodies_parse_into_event_fields_and_back_to_what_the_store_takes() -> None:
    from api.organizer.organizer_fields import EventFields, KnownPerformer, PriceTier

    event = EventFields.from_json({"name": " Gala ", "price_tiers": [
        {"category": "A", "price_cents": 100}], "performers": ["Ada", {"performer_id": 4}]},
        partial=True)
    assert event.price_tiers == [PriceTier("A", 100, "A", "Category A")]
    assert event.performers is not None and event.performers[1] == KnownPerformer(4)
    assert event.given() == {
        "name": "Gala",
        "price_tiers": [{"category": "A", "price_cents": 100, "code": "A",
                         "name": "Category A"}],
        "performers": [{"name": "Ada", "kind": "artist"}, {"performer_id": 4}]}
