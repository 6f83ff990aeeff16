"""Live seat maps over HTTP: the map with each seat's state and price, and a stream of deltas.

`GET /events/{id}/seats` is served from the per-process seat-map cache
(`api.fan.seatmap_cache`), never by querying Postgres per request; its ETag names
the inventory version, so a client that has the current map gets a 304.
`GET /events/{id}/availability/stream` sends the deltas after a version as
Server-Sent Events (id = version, so EventSource resumes by itself); a client
asking for a version no longer kept, or one that falls behind, gets a fresh
snapshot of all seat states instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web

from api.fan.identity import optional_principal
from api.fan.results_hub import sse_response
from api.fan.seatmap_cache import (
    SEAT_FIELDS,
    SEATMAP_CACHE_KEY,
    EventNotFound,
    LiveSeatMap,
    Subscriber,
)
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError
from api.http.openapi_spec import ID_SCHEMA, ok, operation, param
from api.http.params import ascii_id, path_id, query_int
from api.organizer.ownership import may_see_drafts

routes = web.RouteTableDef()

SSE_HEARTBEAT_SECONDS = 15.0
SSE_MAX_SECONDS = 600.0
"""A stream ends after this long; EventSource reconnects with Last-Event-ID and resumes."""
SHUTDOWN_CHECK_SECONDS = 1.0
"""How soon an idle stream notices the server shutting down (and ends, so it need not wait)."""


async def _visible_map(request: web.Request, event_id: int) -> LiveSeatMap:
    try:
        seat_map = await request.app[SEATMAP_CACHE_KEY].get(event_id)
    except EventNotFound:
        raise ApiError(ApiErrorCode.EVENT_NOT_FOUND,
                       "No such event.", {"event_id": event_id}) from None
    if seat_map.status == "draft" and not await may_see_drafts(
            request, await optional_principal(request), seat_map.organizer_id):
        raise ApiError(ApiErrorCode.EVENT_NOT_FOUND, "No such event.", {"event_id": event_id})
    return seat_map


@routes.get("/events/{event_id}/seats")
async def seat_map(request: web.Request) -> web.Response:
    """Anyone (drafts: their organizer or ops): the seat map with states, prices and version."""
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    live = await _visible_map(request, event_id)
    headers = {"ETag": live.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding",
               "X-Inventory-Version": str(live.version)}
    if live.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    body = live.render()
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        headers["Content-Encoding"] = "gzip"
        body = live.render_gzip()
    return web.Response(body=body, content_type="application/json", headers=headers)


def _server_closing(request: web.Request) -> bool:
    """Whether the server is shutting down: aiohttp marks every connection closing first."""
    protocol = request.protocol
    return bool(getattr(protocol, "_close", False) or getattr(protocol, "_force_close", False))


def _sse_event(event: str, version: int, data: dict[str, Any]) -> bytes:
    return f"id: {version}\nevent: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _snapshot(live: LiveSeatMap) -> bytes:
    return _sse_event("snapshot", live.version, {
        "version": live.version, "status": live.status, "states": live.states()})


def _after_version(request: web.Request) -> int | None:
    after = query_int(request, "after", low=0, high=2**62)
    if after is None:
        last = request.headers.get("Last-Event-ID", "")
        after = ascii_id(last)
    return after


@routes.get("/events/{event_id}/availability/stream")
async def availability_stream(request: web.Request) -> web.StreamResponse:
    """Anyone (drafts: their organizer or ops): seat-state deltas after a version, as SSE."""
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    after = _after_version(request)
    cache = request.app[SEATMAP_CACHE_KEY]
    live = await _visible_map(request, event_id)
    response = await sse_response(request)
    subscriber = Subscriber()
    live.subscribers.add(subscriber)
    try:
        pending = None if after is None else live.deltas_after(after)
        if pending is None:
            await response.write(_snapshot(live))
            sent = live.version
        else:
            sent = after if after is not None else live.version
            for version, changes in pending:
                await response.write(_sse_event("delta", version,
                                                {"version": version, "changes": changes}))
                sent = version
        deadline = time.monotonic() + SSE_MAX_SECONDS
        last_write = time.monotonic()
        while time.monotonic() < deadline:
            if subscriber.behind:
                live.subscribers.discard(subscriber)
                live = await cache.get(event_id)  # the map may have been rebuilt or evicted
                subscriber = Subscriber()
                live.subscribers.add(subscriber)
                await response.write(_snapshot(live))
                sent = live.version
                continue
            if subscriber.queue.empty():
                if _server_closing(request):
                    break
                subscriber.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(subscriber.wake.wait(), SHUTDOWN_CHECK_SECONDS)
                if subscriber.queue.empty() and not subscriber.behind and \
                        time.monotonic() - last_write >= SSE_HEARTBEAT_SECONDS:
                    await response.write(b": keep-alive\n\n")
                    last_write = time.monotonic()
                continue
            version, changes = subscriber.queue.get_nowait()
            if version > sent:
                await response.write(_sse_event("delta", version,
                                                {"version": version, "changes": changes}))
                sent = version
                last_write = time.monotonic()
        await response.write_eof()
        return response
    except ConnectionResetError:  # the client went away: nothing to answer
        return response
    finally:
        live.subscribers.discard(subscriber)


OPENAPI_PATHS: dict[str, Any] = {
    "/events/{event_id}/seats": {"get": operation(
        "Live seat map", who="anyone; drafts only their organizer or ops", tags=["Seat maps"],
        errors=(ApiErrorCode.UNAUTHORIZED, ApiErrorCode.EVENT_NOT_FOUND),
        description="Served from memory, kept current by the booking workers' availability "
                    "deltas. `seats` rows follow `seat_fields`: "
                    f"{', '.join(SEAT_FIELDS)}; state is available, held, sold or blocked. "
                    "The ETag names the inventory version: send it as If-None-Match to get "
                    "304 while nothing changed.",
        parameters=[param("event_id", "path", ID_SCHEMA, "The event."),
                    param("If-None-Match", "header", {"type": "string"},
                          "The ETag of the map you have.")],
        responses={200: ok({"type": "object", "required": ["version", "seats", "seat_fields"],
                            "properties": {"version": {"type": "integer"},
                                           "seat_fields": {"type": "array"},
                                           "seats": {"type": "array"},
                                           "ga_zones": {"type": "array"},
                                           "sections": {"type": "array"}}},
                           headers={"ETag": {"schema": {"type": "string"}}}),
                   304: {"description": "Not modified: your map is current."}})},
    "/events/{event_id}/availability/stream": {"get": operation(
        "Seat-state deltas (SSE)", who="anyone; drafts only their organizer or ops",
        tags=["Seat maps"],
        errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED,
                ApiErrorCode.EVENT_NOT_FOUND),
        description="Server-Sent Events. `delta` events carry `{version, changes}` where "
                    "changes maps a seat id to its new state and `zone:<id>` to a GA zone's "
                    "tickets left. A `snapshot` event carries `{version, status, states}` with "
                    "every seat that is not available; it is sent first when `after` is "
                    "missing or too old, and whenever the client falls behind.",
        parameters=[param("event_id", "path", ID_SCHEMA, "The event."),
                    param("after", "query", {"type": "integer", "minimum": 0},
                          "The version you have (default: Last-Event-ID, else a snapshot).")],
        responses={200: ok({"type": "string"}, "An event stream.",
                           content_type="text/event-stream")})},
}
