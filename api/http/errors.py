"""Every failure leaves the API as `{"error": {"code", "message", "details"}}`.

Clients branch on `code`, which never changes; the message is for people.
Errors from the domain and from the data layer are mapped to HTTP here and
nowhere else, so a handler just raises. A 500 is always a bug and is logged
with its traceback and the request id.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from enum import Enum
from http import HTTPStatus
from typing import Any

import redis.exceptions
import sqlalchemy.exc
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, HttpProcessingError, LineTooLong
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_request import BaseRequest

from api.http.error_codes import (
    ApiErrorCode,
    ErrorCodeLike,
    default_message,
    status_of,
)
from api.http.log_format import request_id_var
from api.http.request_context import request_id_for
from api.http.security_headers import ALWAYS
from engine.errors import BookingError
from engine.store.errors import OrganizingError
from waitingroom.errors import WaitingRoomError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error the API itself decides (bad input, not ready, ...): raise it from a handler.

    The status follows from the code (`status_of`), so one code never answers two ways.
    """

    def __init__(
        self, code: ErrorCodeLike, message: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.code = code
        self.status = status_of(code)
        self.message = message if message is not None else default_message(code)
        self.details = details or {}
        super().__init__(f"{code.value}: {self.message}")


# aiohttp raises these for routing and body limits; clients get stable codes, not reasons.
HTTP_STATUS_CODES: dict[int, ApiErrorCode] = {
    code.status: code for code in (
        ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
        ApiErrorCode.NOT_FOUND, ApiErrorCode.METHOD_NOT_ALLOWED, ApiErrorCode.NOT_ACCEPTABLE,
        ApiErrorCode.REQUEST_TIMEOUT, ApiErrorCode.CONFLICT, ApiErrorCode.LENGTH_REQUIRED,
        ApiErrorCode.PAYLOAD_TOO_LARGE, ApiErrorCode.UNSUPPORTED_MEDIA_TYPE,
        ApiErrorCode.UNPROCESSABLE_ENTITY, ApiErrorCode.TOO_MANY_REQUESTS,
        ApiErrorCode.SERVICE_UNAVAILABLE)
}


def error_response(
    status: int,
    code: ErrorCodeLike | str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    text = code.value if isinstance(code, Enum) else code
    body = {"error": {"code": text, "message": message, "details": details or {}}}
    return web.json_response(body, status=status, headers=headers)


def _not_json(reason: str) -> ApiError:
    return ApiError(ApiErrorCode.INVALID_REQUEST, f"request body is not valid JSON: {reason}",
                    {"field": "body", "reason": reason})


class _NotFinite(Exception):
    pass


def _finite_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise _NotFinite(literal)
    return number


def _no_constant(literal: str) -> float:
    raise _NotFinite(literal)


def holds_unstorable_text(document: object) -> bool:
    """Whether any string in the document (keys too) holds a NUL or an unpaired surrogate
    (`"\\u0000"`, `"\\ud800"`): valid JSON, but no text column, Redis key or UTF-8 encoder
    takes them. Iterative, so the depth json.loads allowed costs no recursion here."""
    pending: list[object] = [document]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return True
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return True
    return False


def parse_json_object(raw: bytes, charset: str | None = None) -> dict[str, Any]:
    """A request body as a JSON object, or a 400 `invalid_request` saying what is wrong:
    not decodable in its declared charset, not JSON, nested past the parser's depth,
    not an object, or carrying text nothing downstream can store."""
    try:
        text = raw.decode(charset or "utf-8")
    except LookupError:
        raise _not_json(f"unknown charset {charset!r}") from None
    except UnicodeDecodeError:
        raise _not_json(f"not {charset or 'utf-8'} text") from None
    try:
        body = json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
    except _NotFinite:
        raise _not_json("numbers must be finite (no NaN, Infinity or 1e400)") from None
    except ValueError as exc:  # JSONDecodeError, or an integer of more than 4300 digits
        raise _not_json(str(exc)) from None
    except RecursionError:
        raise _not_json("nested too deeply") from None
    if not isinstance(body, dict):
        raise ApiError(ApiErrorCode.INVALID_REQUEST, "request body must be a JSON object",
                       {"field": "body", "reason": "must be a JSON object"})
    if holds_unstorable_text(body):
        raise ApiError(ApiErrorCode.INVALID_REQUEST,
                       "request body holds a NUL character or an unpaired surrogate",
                       {"field": "body", "reason": "text must be valid Unicode without NUL"})
    return body


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object (`parse_json_object`)."""
    return parse_json_object(await request.read(), request.charset)


def page_not_found(request: web.Request, page: Callable[[], str], what: str,
                   details: dict[str, Any]) -> web.Response:
    """A page's 404: its HTML (`page()`) for a browser, one whose Accept names text/html;
    the error shape `{what}_not_found` for any other client."""
    if "text/html" in request.headers.get("Accept", ""):
        return web.Response(status=404, text=page(), content_type="text/html", charset="utf-8")
    raise ApiError(ApiErrorCode(f"{what}_not_found"), f"No such {what}.", details)


def from_http_exception(request: web.Request, exc: web.HTTPException) -> web.Response:
    status = exc.status
    code: ApiErrorCode | str = HTTP_STATUS_CODES.get(status, f"http_{status}")
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
    code = ApiErrorCode.INTERNAL_ERROR
    return error_response(code.status, code, code.default_message, {"request_id": request_id})


def _unavailable(code: ApiErrorCode) -> web.Response:
    return error_response(code.status, code, code.default_message, headers={"Retry-After": "1"})


def to_response(request: web.Request, exc: Exception) -> web.StreamResponse:
    """The HTTP answer for an exception a handler raised."""
    if isinstance(exc, ApiError):
        retry_after = exc.details.get("retry_after")
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return error_response(exc.status, exc.code, exc.message, exc.details, headers)
    if isinstance(exc, WaitingRoomError):
        retry_after = exc.details.get("retry_after")
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return error_response(exc.http_status, exc.code, exc.message, exc.details, headers)
    if isinstance(exc, BookingError | OrganizingError):
        return error_response(status_of(exc.code), exc.code, exc.message, exc.details)
    if isinstance(exc, RequestPayloadError):  # bad chunking, or a Content-Encoding that lies
        code = ApiErrorCode.MALFORMED_REQUEST
        return error_response(code.status, code,
                              f"the request body could not be read: {exc}".split("\n", 1)[0])
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        log.warning("redis unavailable during %s %s: %s", request.method, request.path, exc)
        return _unavailable(ApiErrorCode.REDIS_UNAVAILABLE)
    if isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.TimeoutError):
        log.warning("database unavailable during %s %s: %s", request.method, request.path, exc)
        return _unavailable(ApiErrorCode.DATABASE_UNAVAILABLE)
    return _internal_error(request, exc)


SSE_STREAM = web.RequestKey("sse_stream", web.StreamResponse)
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
    stream: web.StreamResponse | None = request.get(SSE_STREAM)
    if stream is None or not stream.prepared:
        return answer
    body = answer.text if isinstance(answer, web.Response) and answer.text else "{}"
    try:
        await stream.write(f"retry: 1000\nevent: error\ndata: {body}\n\n".encode())
        await stream.write_eof()
    except (ConnectionResetError, RuntimeError):
        pass  # the client is gone already
    return stream


# aiohttp's parser raises the same LineTooLong for the request line and for a header field,
# carrying the limit it crossed: the two limits differ by a byte so the answer can say which.
MAX_REQUEST_LINE_BYTES = 8190
MAX_HEADER_FIELD_BYTES = 8191
MAX_HEADERS = 128

protocol_log = logging.getLogger("onsale.protocol")


def protocol_error(exc: BaseException | None) -> tuple[int, ApiErrorCode, str]:
    """Status, code and message for a request aiohttp's HTTP parser refused."""
    if isinstance(exc, LineTooLong):
        if exc.args[1:2] == (MAX_REQUEST_LINE_BYTES,):
            code = ApiErrorCode.REQUEST_LINE_TOO_LONG
            return code.status, code, (
                f"the request line exceeds {MAX_REQUEST_LINE_BYTES} bytes")
        code = ApiErrorCode.REQUEST_HEADER_TOO_LARGE
        return code.status, code, f"a header field exceeds {MAX_HEADER_FIELD_BYTES} bytes"
    if isinstance(exc, BadHttpMessage) and exc.message.startswith("Too many headers"):
        code = ApiErrorCode.REQUEST_HEADER_TOO_LARGE
        return code.status, code, f"more than {MAX_HEADERS} header fields"
    reason = exc.message.split("\n", 1)[0].rstrip(":") if isinstance(
        exc, HttpProcessingError) else ""
    code = ApiErrorCode.MALFORMED_REQUEST
    return code.status, code, f"not a well-formed HTTP/1.1 request: {reason or 'bad syntax'}"


class JsonErrorRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering in the error shape what never reaches the
    application: a request its parser refused (request line or header too long, bad syntax)
    and an exception that escaped every middleware. aiohttp's own answer is plain text (or an
    HTML page) and logs each malformed request with a traceback; here one INFO line."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # the answer has begun: only closing is left
            raise ConnectionError("response already started; closing the connection")
        if status == 400:
            status, code, text = protocol_error(exc)
            protocol_log.info("refused a malformed request from %s: %s", request.remote, code)
            response = error_response(status, code, text)
        elif status == 504:
            timeout = ApiErrorCode.TIMEOUT
            response = error_response(timeout.status, timeout, timeout.default_message)
        else:
            request_id = request_id_for(request)
            log.error("unhandled error outside the middlewares", exc_info=exc,
                      extra={"request_id": request_id})
            internal = ApiErrorCode.INTERNAL_ERROR
            response = error_response(internal.status, internal, internal.default_message,
                                      {"request_id": request_id})
        response.headers.update(ALWAYS)  # no app here, so no prepare signal either
        response.force_close()
        return response
