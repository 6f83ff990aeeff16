"""Per-request plumbing that every route gets: request id, access log line, body limit.

The request id is accepted from `X-Request-Id` (so a load balancer's id
survives) or generated, echoed on every response including errors, and put
on every log record written while the request is handled.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from api.logging import request_id_var

REQUEST_ID_HEADER = "X-Request-Id"
_ACCEPTABLE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

access_log = logging.getLogger("onsale.access")


def request_id_for(request: web.Request) -> str:
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    if _ACCEPTABLE_REQUEST_ID.match(offered):
        return offered
    return uuid.uuid4().hex


@web.middleware
async def request_context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost middleware: sets the request id and writes the access log line.

    Successful requests log at DEBUG: during a rush fans poll thousands of
    times a second and the metrics already count them. Failures log at INFO;
    a 500 is also logged at ERROR, with its traceback, by the error middleware.
    """
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
        elapsed_ms = (time.perf_counter() - started) * 1000
        level = logging.DEBUG if status < 400 else logging.INFO
        access_log.log(
            level,
            "%s %s %d %.1fms",
            request.method,
            request.path,
            status,
            elapsed_ms,
            extra={"status": status, "duration_ms": round(elapsed_ms, 2)},
        )
        request_id_var.reset(token)


def body_limit_middleware(max_body_bytes: int) -> Middleware:
    """Refuse a declared oversize body before any handler reads it.

    Bodies without Content-Length (chunked) are capped by the application's
    `client_max_size` when read; both end as 413 `payload_too_large`. A handler
    that reads a larger body itself (a venue's seat map) declares its own limit
    as a `max_body_bytes` attribute.
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
