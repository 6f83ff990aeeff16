"""One layer of request plumbing instead of five, for the routes fans hit thousands of times
a second (the waiting room's status poll).

A handler marked with `fast_route` is called by `fast_path_middleware`, the
outermost middleware, directly: the generic chain (request context, metrics,
CORS, errors, body limit) is skipped, and this layer gives the answer the same
observable behaviour with the same helpers: the request id (echoed or generated)
on the answer and on every log record, the access log line, CORS headers for
allowed origins, the HTTP metrics and the per-event tally, and the error shape
with its stable codes. A request with a body takes the generic chain (where the
body limit applies); so do all unmarked routes, for the cost of one attribute look-up.
"""

from __future__ import annotations

import time
from typing import TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from api.http.cors import CorsPolicy
from api.http.errors import from_http_exception, to_response
from api.http.log_format import request_id_var
from api.http.metrics import record_response
from api.http.request_context import REQUEST_ID_HEADER, log_access, request_id_for

FAST_ROUTE_ATTRIBUTE = "fast_route"

_H = TypeVar("_H")


def fast_route(handler: _H) -> _H:
    """Mark a route's handler for the fast path (apply below the route decorator)."""
    setattr(handler, FAST_ROUTE_ATTRIBUTE, True)
    return handler


def fast_path_middleware(cors_origins: tuple[str, ...]) -> Middleware:
    cors = CorsPolicy(cors_origins)

    @web.middleware
    async def fast_path(request: web.Request, handler: Handler) -> web.StreamResponse:
        route_handler = request.match_info.handler
        if not getattr(route_handler, FAST_ROUTE_ATTRIBUTE, False) or request.body_exists:
            return await handler(request)
        started = time.perf_counter()
        request_id = request_id_for(request)
        token = request_id_var.set(request_id)
        status = 500
        try:
            try:
                response = await route_handler(request)
            except web.HTTPException as exc:
                if exc.status < 400:  # a redirect goes out as aiohttp raised it
                    status = exc.status
                    exc.headers[REQUEST_ID_HEADER] = request_id
                    raise
                response = from_http_exception(request, exc)
            except Exception as exc:
                response = to_response(request, exc)
            status = response.status
            response.headers[REQUEST_ID_HEADER] = request_id
            origin = cors.allowed_origin(request)
            if origin is not None:
                response.headers.update(cors.headers_for(origin))
            return response
        finally:
            record_response(request, status, time.perf_counter() - started)
            log_access(request, status, started)
            request_id_var.reset(token)

    return fast_path
