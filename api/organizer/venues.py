"""Organizers' venues, made from seat-map documents (errors name the bad element).

An organizer manages only their own venues; ops manage all, and venues ops make
without an organizer are shared (any organizer may put events on them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from api.fan.identity import require_principal
from api.http.appkeys import DB_ENGINE_KEY
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError
from api.http.openapi_spec import ID_SCHEMA, json_body, ok, operation, param
from api.http.params import invalid, path_id, query_int
from api.http.request_context import body_limit
from api.organizer.organizer_fields import (
    SIGNED_IN_ORGANIZERS,
    read_seatmap,
    store_error,
)
from api.organizer.ownership import acting_organizer, ensure_manages, organizer_of
from engine.errors import BookingError
from engine.store import catalog

routes = web.RouteTableDef()

MAX_SEATMAP_BYTES = 16 * 1024 * 1024
"""An arena of 200,000 seats is about 15 MB of JSON; the API's usual limit is far lower."""


# ---------------------------------------------------------------- venues


def _venue_summary(row: Any) -> dict[str, Any]:
    return {"venue_id": row.id, "name": row.name, "city": row.city, "country": row.country,
            "capacity": row.capacity, "organizer_id": row.organizer_id,
            "seats": row.seats, "sections": row.sections, "ga_zones": row.ga_zones}


_VENUE_SUMMARY = """
    SELECT v.id, v.name, v.city, v.country, v.capacity, v.organizer_id,
           (SELECT count(*) FROM seats s WHERE s.venue_id = v.id) AS seats,
           (SELECT count(*) FROM sections s WHERE s.venue_id = v.id) AS sections,
           (SELECT count(*) FROM ga_zones z WHERE z.venue_id = v.id) AS ga_zones
    FROM venues v"""


@routes.post("/venues")
@body_limit(MAX_SEATMAP_BYTES)
async def create_venue(request: web.Request) -> web.Response:
    """Organizers and ops: a venue from a seat-map document (errors point at the bad element)."""
    principal = await require_principal(request, "organizer", "ops")
    doc = await read_seatmap(request, MAX_SEATMAP_BYTES)
    engine = request.app[DB_ENGINE_KEY]
    if principal.role == "organizer":
        organizer_id: int | None = await acting_organizer(request, principal)
    else:
        organizer_id = query_int(request, "organizer_id", low=1, high=2**62)

    def create() -> Any:
        with engine.begin() as conn:
            if organizer_id is not None and conn.execute(sa.text(
                    "SELECT 1 FROM organizers WHERE id = :id"), {"id": organizer_id}).first() \
                    is None:
                invalid("organizer_id", "no such organizer")
            venue_id = catalog.create_venue(conn, doc, organizer_id)
            return conn.execute(sa.text(_VENUE_SUMMARY + " WHERE v.id = :id"),
                                {"id": venue_id}).one()

    try:
        row = await asyncio.to_thread(create)
    except BookingError as error:
        raise store_error(error, "Invalid seat map") from None
    return web.json_response(_venue_summary(row), status=201,
                             headers={"Location": f"/venues/{row.id}"})



@routes.get("/venues")
async def list_venues(request: web.Request) -> web.Response:
    """Organizers (their own venues) and ops (all venues)."""
    principal = await require_principal(request, "organizer", "ops")
    organizer_id = await organizer_of(request, principal)
    engine = request.app[DB_ENGINE_KEY]

    def read() -> Sequence[sa.Row[Any]]:
        with engine.connect() as conn:
            if principal.role == "ops":
                return conn.execute(sa.text(_VENUE_SUMMARY + " ORDER BY v.id")).all()
            return conn.execute(sa.text(_VENUE_SUMMARY + " WHERE v.organizer_id = :o"
                                        " ORDER BY v.id"), {"o": organizer_id}).all()

    rows = await asyncio.to_thread(read) if principal.role == "ops" or organizer_id else []
    return web.json_response({"venues": [_venue_summary(row) for row in rows]})


@routes.get("/venues/{venue_id}")
async def get_venue(request: web.Request) -> web.Response:
    """The venue's organizer and ops: the venue with its seat-map document."""
    principal = await require_principal(request, "organizer", "ops")
    venue_id = path_id(request, "venue_id", ApiErrorCode.VENUE_NOT_FOUND, "venue")
    engine = request.app[DB_ENGINE_KEY]

    def read() -> tuple[Any, Any]:
        with engine.connect() as conn:
            row = conn.execute(sa.text(_VENUE_SUMMARY + " WHERE v.id = :id"),
                               {"id": venue_id}).first()
            doc = conn.execute(sa.text("SELECT seatmap FROM venues WHERE id = :id"),
                               {"id": venue_id}).scalar()
            return row, doc

    row, doc = await asyncio.to_thread(read)
    if row is None:
        raise ApiError(ApiErrorCode.VENUE_NOT_FOUND, "No such venue.", {"venue_id": venue_id})
    if row.organizer_id is None:
        if principal.role != "ops":
            raise ApiError(ApiErrorCode.FORBIDDEN, "Only ops manage venues without an organizer.",
                           {"reason": "not_owner"})
    else:
        await ensure_manages(request, principal, row.organizer_id, "venue")
    return web.json_response({**_venue_summary(row), "seatmap": doc})


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
