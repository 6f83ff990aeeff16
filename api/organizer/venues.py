"""Organizers' venues, made from seat-map documents (errors name the bad element).

An organizer manages only their own venues; ops manage all, and venues ops make
without an organizer are shared (any organizer may put events on them). The rules
and the SQL are `engine.store.organizing`'s; the handlers parse, call it, answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from api.fan.identity import require_principal
from api.http.appkeys import DB_ENGINE_KEY
from api.http.error_codes import ApiErrorCode
from api.http.openapi_spec import ID_SCHEMA, json_body, ok, operation, param
from api.http.params import path_id, query_int
from api.http.request_context import body_limit
from api.organizer.organizer_fields import SIGNED_IN_ORGANIZERS, read_seatmap
from api.organizer.ownership import acting_organizer, actor_of
from engine.store import organizing

routes = web.RouteTableDef()

MAX_SEATMAP_BYTES = 16 * 1024 * 1024
"""An arena of 200,000 seats is about 15 MB of JSON; the API's usual limit is far lower."""


# ---------------------------------------------------------------- venues


@routes.post("/venues")
@body_limit(MAX_SEATMAP_BYTES)
async def create_venue(request: web.Request) -> web.Response:
    """Organizers and ops: a venue from a seat-map document (errors point at the bad element)."""
    principal = await require_principal(request, "organizer", "ops")
    doc = await read_seatmap(request, MAX_SEATMAP_BYTES)
    if principal.role == "organizer":
        organizer_id: int | None = await acting_organizer(request, principal)
    else:
        organizer_id = query_int(request, "organizer_id", low=1, high=2**62)
    venue = await asyncio.to_thread(organizing.create_venue, request.app[DB_ENGINE_KEY], doc,
                                    organizer_id)
    return web.json_response(venue, status=201,
                             headers={"Location": f"/venues/{venue['venue_id']}"})


@routes.get("/venues")
async def list_venues(request: web.Request) -> web.Response:
    """Organizers (their own venues) and ops (all venues)."""
    principal = await require_principal(request, "organizer", "ops")
    actor = await actor_of(request, principal)
    venues = await asyncio.to_thread(organizing.list_venues, request.app[DB_ENGINE_KEY], actor)
    return web.json_response({"venues": venues})


@routes.get("/venues/{venue_id}")
async def get_venue(request: web.Request) -> web.Response:
    """The venue's organizer and ops: the venue with its seat-map document."""
    principal = await require_principal(request, "organizer", "ops")
    venue_id = path_id(request, "venue_id", ApiErrorCode.VENUE_NOT_FOUND, "venue")
    actor = await actor_of(request, principal)
    venue = await asyncio.to_thread(organizing.venue_with_seatmap, request.app[DB_ENGINE_KEY],
                                    actor, venue_id)
    return web.json_response(venue)


# ---------------------------------------------------------------- OpenAPI

OPENAPI_PATHS: dict[str, Any] = {
    "/venues": {
        "post": operation(
            "Create a venue from a seat-map document", who="organizers and ops",
            errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED,
                    ApiErrorCode.FORBIDDEN, ApiErrorCode.PAYLOAD_TOO_LARGE),
            **SIGNED_IN_ORGANIZERS,
            description="The document is JSON: name, city, country?, stage?, sections "
                        "(rows of seats with x/y in 0..1000 and a category) and ga_zones. "
                        "A bad element is refused with `details.field` naming it, e.g. "
                        "`sections[2].rows[0].seats[5].x`. Up to 16 MB.",
            parameters=[param("organizer_id", "query", ID_SCHEMA,
                              "Ops only: the organizer who will own the venue.")],
            body=json_body({"$ref": "#/components/schemas/SeatMap"}, "The seat map."),
            responses={201: ok({"type": "object"}, "The venue.")}),
        "get": operation("List venues", who="organizers (their own) and ops (all)",
                         errors=(ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN),
                         **SIGNED_IN_ORGANIZERS,
                         responses={200: ok({"type": "object"})}),
    },
    "/venues/{venue_id}": {"get": operation(
        "A venue with its seat-map document", who="the venue's organizer and ops",
        errors=(ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
                ApiErrorCode.VENUE_NOT_FOUND), **SIGNED_IN_ORGANIZERS,
        parameters=[param("venue_id", "path", ID_SCHEMA, "The venue.")],
        responses={200: ok({"type": "object"})})},
}
