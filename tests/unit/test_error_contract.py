"""One contract for errors: codes are enum members, each operation lists the codes it answers.

Guards the invariant that a client can branch on every `code` it may receive: each code
comes from an enum (`ApiErrorCode`, `BookingCode`, `RoomCode`) with one HTTP status, and
the OpenAPI document names, per operation, the codes its handler can raise (as far as
the handler's source and the API functions it calls show; `tests/support/error_reach.py`).
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from api.http.app import create_app
from api.http.error_codes import (
    API_CODES,
    ApiErrorCode,
    BookingCode,
    OrganizingCode,
    RoomCode,
    status_of,
)
from api.http.openapi import build_document
from api.launcher.settings import Settings
from tests.support.error_reach import reachable_codes

API_ROOT = Path(__file__).resolve().parents[2] / "api"
ENUMS = (ApiErrorCode, BookingCode, RoomCode, OrganizingCode)
ALL_CODES = {code.value for enum in ENUMS for code in enum}


def _app() -> web.Application:
    return create_app(Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
                               redis_url="redis://127.0.0.1:1/0"))


def test_every_api_code_has_a_status_and_a_message() -> None:
    assert set(API_CODES) == set(ApiErrorCode)
    for code in ApiErrorCode:
        assert 400 <= code.status <= 599 and code.default_message, code


def test_a_code_in_two_enums_has_one_status() -> None:
    statuses: dict[str, set[int]] = {}
    for enum in ENUMS:
        for code in enum:
            statuses.setdefault(code.value, set()).add(status_of(code))
    assert {value: found for value, found in statuses.items() if len(found) > 1} == {}


def test_every_listed_code_exists_in_an_enum_and_its_status_is_documented() -> None:
    document = build_document(_app())
    assert set(document["x-error-codes-everywhere"]) <= ALL_CODES
    assert set(document["components"]["schemas"]["ErrorCode"]["enum"]) == ALL_CODES
    by_value = {code.value: code for enum in ENUMS
                for code in enum}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            listed = operation.get("x-error-codes")
            assert listed is not None, f"{method} {path}: x-error-codes missing"
            assert set(listed) <= ALL_CODES, (method, path, set(listed) - ALL_CODES)
            for value in listed:
                assert str(status_of(by_value[value])) in operation["responses"], (path, value)


def test_every_code_a_handler_can_raise_is_listed_for_its_operation() -> None:
    app = _app()
    document = build_document(app)
    unlisted = []
    for route in app.router.routes():
        if route.method in ("HEAD", "*") or route.resource is None:
            continue
        if not getattr(route.handler, "__module__", "").startswith("api."):
            continue
        operation = document["paths"][route.resource.canonical][route.method.lower()]
        listed = set(operation["x-error-codes"])
        for code in reachable_codes(route.handler):
            if code.value not in listed:
                unlisted.append(f"{route.method} {route.resource.canonical}: {code.value}")
    assert not unlisted, "codes a handler raises but its operation does not list:\n" + \
        "\n".join(sorted(unlisted))


def test_no_handler_spells_a_code_or_a_status_as_a_literal() -> None:
    literal = re.compile(r"ApiError\(\s*(\d|[\"'])")
    offenders = [f"{path.relative_to(API_ROOT.parent)}:{text[:match.start()].count(chr(10)) + 1}"
                 for path in API_ROOT.rglob("*.py")
                 for text in [path.read_text()]
                 for match in literal.finditer(text)]
    assert not offenders, offenders
