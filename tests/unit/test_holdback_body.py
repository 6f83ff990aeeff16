"""A holdback request's body is refused at the API, naming the field, before it is queued."""

from __future__ import annotations

import pytest

from api.http.errors import ApiError
from api.organizer.holdbacks import MAX_HOLDBACK_SEATS, parse_seat_ids


def test_holdback_bodies_name_the_bad_field() -> None:
    assert parse_seat_ids({"seat_ids": [3, 1]}) == [3, 1]
    for body, field in (([1], "body"), ({"seat_ids": []}, "seat_ids"),
                        ({"seat_ids": [True]}, "seat_ids"), ({"seat_ids": [0]}, "seat_ids"),
                        ({"seat_ids": list(range(1, MAX_HOLDBACK_SEATS + 2))}, "seat_ids"),
                        ({"seat_ids": [1], "why": "press"}, "why")):
        with pytest.raises(ApiError) as refused:
            parse_seat_ids(body)
        assert refused.value.details["field"] == field, body
