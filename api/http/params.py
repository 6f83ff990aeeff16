"""Reading query parameters and JSON fields, with errors that name the field and the reason.

Every validation failure is a 400 `invalid_request` whose details carry
`field` and `reason`, so a client (or a form) can point at the bad input.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NoReturn

from aiohttp import web

from api.http.error_codes import ApiErrorCode, ErrorCodeLike
from api.http.errors import ApiError, holds_unstorable_text

MAX_TEXT_PARAM_CHARS = 200
MAX_ID_DIGITS = 18
"""Ids are Postgres bigints: 18 digits always fit, and a longer id names nothing."""
_INTEGER = re.compile(r"-?[0-9]{1,19}")
"""What an integer parameter may look like. Python's int() also takes ' 7', '1_000', '+7'
and digits of every script ('١٢٣' is 123; '²' passes str.isdigit and fails int)."""


def ascii_id(raw: str | None, max_digits: int = MAX_ID_DIGITS) -> int | None:
    """`raw` as a non-negative id if it is 1 to `max_digits` ASCII digits, else None."""
    if raw is None or not 0 < len(raw) <= max_digits or not raw.isascii() or not raw.isdigit():
        return None
    return int(raw)


def invalid(field: str, reason: str) -> NoReturn:
    raise ApiError(ApiErrorCode.INVALID_REQUEST, f"{field}: {reason}",
                   {"field": field, "reason": reason})


def query_text(request: web.Request, name: str, *,
               max_chars: int = MAX_TEXT_PARAM_CHARS) -> str | None:
    value = request.query.get(name)
    if value is None:
        return None
    value = value.strip()
    if not value:
        invalid(name, "must not be empty")
    if len(value) > max_chars:
        invalid(name, f"must be at most {max_chars} characters")
    if "\x00" in value:
        invalid(name, "must not contain NUL characters")
    return value


def query_int(request: web.Request, name: str, *, low: int, high: int,
              default: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not _INTEGER.fullmatch(raw):
        invalid(name, "must be an integer (ASCII digits)")
    value = int(raw)
    if not low <= value <= high:
        invalid(name, f"must be between {low} and {high}")
    return value


def query_bool(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    invalid(name, "must be true or false")


def query_choice(request: web.Request, name: str, choices: tuple[str, ...],
                 default: str) -> str:
    raw = request.query.get(name, default)
    if raw not in choices:
        invalid(name, f"must be one of {', '.join(choices)}")
    return raw


def parse_datetime(value: object, field: str, *, end_of_day: bool = False) -> datetime:
    """An ISO 8601 date-time with a time zone, or a date (midnight UTC, or the next one)."""
    if not isinstance(value, str):
        invalid(field, "must be an ISO 8601 date or date-time string")
    try:
        if len(value) == 10:
            moment = datetime.combine(date.fromisoformat(value), time.min, UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        invalid(field, "must be an ISO 8601 date or date-time")
    if parsed.tzinfo is None:
        invalid(field, "must carry a time zone (e.g. 2025-06-01T19:30:00Z)")
    if not 1970 <= parsed.year <= 9000:
        invalid(field, "must be between the years 1970 and 9000")
    return parsed


def query_datetime(request: web.Request, name: str, *,
                   end_of_day: bool = False) -> datetime | None:
    raw = request.query.get(name)
    return None if raw is None else parse_datetime(raw, name, end_of_day=end_of_day)


def encode_cursor(payload: list[Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(request: web.Request, name: str = "cursor") -> list[Any] | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        invalid(name, "is not a cursor this API returned")
    if not isinstance(payload, list) or holds_unstorable_text(payload):
        invalid(name, "is not a cursor this API returned")
    return payload


def path_id(request: web.Request, name: str, code: ErrorCodeLike, what: str) -> int:
    """A numeric path id; anything else is a 404 with the resource's own code."""
    raw = request.match_info[name]
    value = ascii_id(raw)
    if value is None:
        raise ApiError(code, f"No such {what}.", {name: raw})
    return value


_TOKEN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
"""What an opaque id the API hands out (request, hold, order) looks like."""


def path_token(request: web.Request, name: str, code: ErrorCodeLike, what: str) -> str:
    """An opaque path id the API handed out; anything else (NUL, other scripts, 129+
    characters) is a 404 with the resource's own code, before it reaches Redis or SQL."""
    raw = request.match_info[name]
    if not _TOKEN.fullmatch(raw):
        raise ApiError(code, f"No such {what}.", {name: raw})
    return raw


def body_text(body: dict[str, Any], name: str, *, max_chars: int, required: bool = True,
              allow_empty: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            invalid(name, "is required")
        return None
    if not isinstance(value, str):
        invalid(name, "must be a string")
    if holds_unstorable_text(value):
        invalid(name, "must be valid Unicode without NUL characters")
    value = value.strip()
    if not value and not allow_empty:
        invalid(name, "must not be empty")
    if len(value) > max_chars:
        invalid(name, f"must be at most {max_chars} characters")
    return value


def body_int(body: dict[str, Any], name: str, *, low: int, high: int,
             required: bool = True) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            invalid(name, "is required")
        return None
    if type(value) is not int:
        invalid(name, "must be an integer")
    if not low <= value <= high:
        invalid(name, f"must be between {low} and {high}")
    return value
