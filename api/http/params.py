"""Reading query parameters and JSON fields, with errors that name the field and the reason.

Every validation failure is a 400 `invalid_request` whose details carry
`field` and `reason`, so a client (or a form) can point at the bad input.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NoReturn

from aiohttp import web

from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError

MAX_TEXT_PARAM_CHARS = 200


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
    return value


def query_int(request: web.Request, name: str, *, low: int, high: int,
              default: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        invalid(name, "must be an integer")
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
    except (binascii.Error, ValueError, UnicodeDecodeError):
        invalid(name, "is not a cursor this API returned")
    if not isinstance(payload, list):
        invalid(name, "is not a cursor this API returned")
    return payload


def path_id(request: web.Request, name: str, code: ApiErrorCode, what: str) -> int:
    """A numeric path id; anything else is a 404 with the resource's own code."""
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError(code, f"No such {what}.", {name: raw})
    return int(raw)


def body_text(body: dict[str, Any], name: str, *, max_chars: int, required: bool = True,
              allow_empty: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            invalid(name, "is required")
        return None
    if not isinstance(value, str):
        invalid(name, "must be a string")
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
