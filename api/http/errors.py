"""Every failure leaves the API as `{"error": {"code", "message", "details"}}`.

Clients branch on `code`, which never changes; the message is for people.
Errors from the domain and from the data layer are mapped to HTTP here and
nowhere else, so a handler just raises. A 500 is always a bug and is logged
with its traceback and the request id.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

import redis.exceptions
import sqlalchemy.exc
from aiohttp import web
from aiohttp.typedefs import Handler

from api.http.log_format import request_id_var
from engine.errors import BookingError, ErrorCode
from waitingroom.errors import WaitingRoomError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error the API itself decides (bad input, not ready, ...): raise it from a handler."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


BOOKING_ERROR_STATUS: dict[ErrorCode, int] = {
    ErrorCode.SEATS_TAKEN: 409,
    ErrorCode.SOLD_OUT: 409,
    ErrorCode.LIMIT_EXCEEDED: 409,
    ErrorCode.HOLD_NOT_FOUND: 404,
    ErrorCode.ORDER_NOT_FOUND: 404,
    ErrorCode.HOLD_EXPIRED: 410,
    ErrorCode.INVALID_REQUEST: 400,
}

# aiohttp raises these for routing and body limits; clients get stable codes, not reasons.
HTTP_STATUS_CODES: dict[int, str] = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_entity",
    429: "too_many_requests",
    503: "service_unavailable",
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return web.json_response(body, status=status, headers=headers)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 `invalid_request` saying what is wrong."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_request", f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "request body must be a JSON object")
    return body


def from_http_exception(request: web.Request, exc: web.HTTPException) -> web.Response:
    status = exc.status
    code = HTTP_STATUS_CODES.get(status, f"http_{status}")
    details: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if status == 404:
        message = f"no such resource: {request.path}"
    elif isinstance(exc, web.HTTPMethodNotAllowed):
        message = f"{request.method} is not allowed on {request.path}"
        details["allowed_methods"] = sorted(exc.allowed_methods)
        headers["Allow"] = ",".join(sorted(exc.allowed_methods))
    elif exc.text and exc.text != f"{status}: {exc.reason}":
        message = exc.text  # aiohttp's default text only repeats the status line
    else:
        message = HTTPStatus(status).phrase
    for name in ("Retry-After", "WWW-Authenticate"):
        if name in exc.headers:
            headers[name] = exc.headers[name]
    return error_response(status, code, message, details, headers)


def _internal_error(request: web.Request, exc: BaseException) -> web.Response:
    request_id = request_id_var.get()
    log.error(
        "unhandled error in %s %s",
        request.method,
        request.path,
        exc_info=exc,
        extra={"request_id": request_id},
    )
    return error_response(
        500,
        "internal_error",
        "internal error; please report the request id",
        {"request_id": request_id},
    )


def to_response(request: web.Request, exc: Exception) -> web.StreamResponse:
    """The HTTP answer for an exception a handler raised."""
    if isinstance(exc, ApiError):
        retry_after = exc.details.get("retry_after")
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return error_response(exc.status, exc.code, exc.message, exc.details, headers)
    if isinstance(exc, WaitingRoomError):
        retry_after = exc.details.get("retry_after")
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return error_response(exc.http_status, exc.code.value, exc.message, exc.details, headers)
    if isinstance(exc, BookingError):
        status = BOOKING_ERROR_STATUS.get(exc.code)
        if status is None:
            return _internal_error(request, exc)
        return error_response(status, exc.code.value, exc.message, exc.details)
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        log.warning("redis unavailable during %s %s: %s", request.method, request.path, exc)
        return error_response(
            503,
            "redis_unavailable",
            "the queue store is unavailable; retry shortly",
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.TimeoutError):
        log.warning("database unavailable during %s %s: %s", request.method, request.path, exc)
        return error_response(
            503,
            "database_unavailable",
            "the database is unavailable; retry shortly",
            headers={"Retry-After": "1"},
        )
    return _internal_error(request, exc)


SSE_STREAM = "onsale.sse_stream"
"""Request key of an event stream already started (set by `api.fan.results_hub.sse_response`)."""


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn whatever a handler raises into the error shape (redirects pass through)."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return await _answer(request, from_http_exception(request, exc))
    except Exception as exc:
        return await _answer(request, to_response(request, exc))


async def _answer(request: web.Request, answer: web.StreamResponse) -> web.StreamResponse:
    """The error answer; once an event stream has started (its status line is sent) the
    error becomes the stream's last event, `error`, in the same JSON shape, and the stream
    ends cleanly: the client reconnects (EventSource waits `retry` ms) or polls instead of
    reading an error page spliced into the stream."""
    stream = request.get(SSE_STREAM)
    if not isinstance(stream, web.StreamResponse) or not stream.prepared:
        return answer
    body = answer.text if isinstance(answer, web.Response) and answer.text else "{}"
    try:
        await stream.write(f"retry: 1000\nevent: error\ndata: {body}\n\n".encode())
        await stream.write_eof()
    except (ConnectionResetError, RuntimeError):
        pass  # the client is gone already
    return stream
