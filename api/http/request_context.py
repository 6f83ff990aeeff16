"""Per-request plumbing that every route gets: request id, access log line, body limit.

The request id is accepted from `X-Request-Id` (so a load balancer's id
survives) or generated, echoed on every response including errors, and put
on every log record written while the request is handled. Generated ids are
32 hex digits: a random per-process prefix and a counter (unique like a
UUID, without a system call per request).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from api.http.log_format import request_id_var

REQUEST_ID_HEADER = "X-Request-Id"
_ACCEPTABLE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

access_log = logging.getLogger("onsale.access")


class _RequestIds:
    """Fresh request ids: 20 random hex digits per process, then a 12-digit counter."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self._prefix = secrets.token_hex(10)
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):012x}"


_request_ids = _RequestIds()


def request_id_for(request: web.BaseRequest) -> str:
    offered = request.headers.get(REQUEST_ID_HEADER)
    if offered is not None and _ACCEPTABLE_REQUEST_ID.match(offered):
        return offered
    return _request_ids.next()


def log_access(request: web.Request, status: int, started: float) -> None:
    """The access log line: DEBUG for successes (fans poll thousands of times a second and the
    metrics count them), INFO for failures."""
    level = logging.DEBUG if status < 400 else logging.INFO
    if not access_log.isEnabledFor(level):
        return
    elapsed_ms = (time.perf_counter() - started) * 1000
    access_log.log(
        level,
        "%s %s %d %.1fms",
        request.method,
        request.path,
        status,
        elapsed_ms,
        extra={"status": status, "duration_ms": round(elapsed_ms, 2)},
    )


@web.middleware
async def request_context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sets the request id and writes the access log line (`log_access`); a 500 is also
    logged at ERROR, with its traceback, by the error middleware."""
    request_id = request_id_for(request)
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response
    except web.HTTPException as exc:  # redirects: the error middleware lets them through
        status = exc.status
        exc.headers[REQUEST_ID_HEADER] = request_id
        raise
    finally:
        log_access(request, status, started)
        request_id_var.reset(token)


_H = TypeVar("_H", bound=Handler)


def body_limit(limit_bytes: int) -> Callable[[_H], _H]:
    """Mark a handler that reads a body larger than the app's limit (a venue's seat map)."""

    def mark(handler: _H) -> _H:
        setattr(handler, "max_body_bytes", limit_bytes)  # noqa: B010 - read by getattr below
        return handler

    return mark


def body_limit_middleware(max_body_bytes: int) -> Middleware:
    """Refuse a declared oversize body before any handler reads it.

    Bodies without Content-Length (chunked) are capped by the application's
    `client_max_size` when read; both end as 413 `payload_too_large`. A handler
    that reads a larger body itself (a venue's seat map) declares its own limit
    with `@body_limit(n)`.
    """

    @web.middleware
    async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        declared = request.content_length
        limit = getattr(request.match_info.handler, "max_body_bytes", max_body_bytes)
        if declared is not None and declared > limit:
            raise web.HTTPRequestEntityTooLarge(
                max_size=limit,
                actual_size=declared,
                text=f"request body of {declared} bytes exceeds the limit of {limit} bytes",
            )
        return await handler(request)

    return body_limit
