"""The organizer's backoffice pages and the gate scanner page, and the seat-map check the
venue page previews with.

The pages are shells that anyone may load: what they show comes from the organizer JSON
endpoints, which do the refusing (an account that is not the event's organizer, or ops,
sees the refusal on the page). The gate page names a published event server-side; a
draft's name is not shown to whoever loads the page.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from api.fan.catalog import read_details
from api.fan.identity import require_principal
from api.fan.storefront import HOME_CATEGORIES
from api.http.appkeys import DB_ENGINE_KEY
from api.http.error_codes import ApiErrorCode
from api.http.openapi_spec import ID_SCHEMA, json_body, ok, operation, param
from api.http.params import path_id
from api.http.templates import render
from api.organizer.organizer_fields import read_seatmap
from api.organizer.venues import MAX_SEATMAP_BYTES
from engine.seatmap import seatmap_problems

routes = web.RouteTableDef()

STATIC_DIR = Path(__file__).parent / "static" / "backoffice"
"""The backoffice's and the gate's scripts, and the vendored QR decoder, at /static/backoffice/."""


@routes.get("/organizer")
async def organizer_page(request: web.Request) -> web.Response:
    """Anyone may load the page; it lists the signed-in organizer's events and venues."""
    return render(request, "organizer/organizer_home.html", {})


@routes.get("/organizer/venues/new")
async def new_venue_page(request: web.Request) -> web.Response:
    """Anyone may load the page; creating the venue is for organizers and ops."""
    return render(request, "organizer/venue_new.html", {})


@routes.get("/organizer/events/new")
async def new_event_page(request: web.Request) -> web.Response:
    """Anyone may load the page; creating the event is for organizers and ops."""
    return render(request, "organizer/event_form.html",
                  {"event_id": None, "categories": HOME_CATEGORIES})


@routes.get("/organizer/events/{event_id}")
async def event_dashboard_page(request: web.Request) -> web.Response:
    """Anyone may load the page; its figures are the event's organizer's and ops' only."""
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    return render(request, "organizer/event_dashboard.html", {"event_id": event_id})


@routes.get("/organizer/events/{event_id}/edit")
async def edit_event_page(request: web.Request) -> web.Response:
    """Anyone may load the page; changing the event is for its organizer and ops."""
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    return render(request, "organizer/event_form.html", {"event_id": event_id,
                                               "categories": HOME_CATEGORIES})


@routes.get("/organizer/events/{event_id}/gate")
async def gate_page(request: web.Request) -> web.Response:
    """Anyone may load the page; scanning is for the event's organizer (gate staff) and ops."""
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    details = await asyncio.to_thread(read_details, request.app[DB_ENGINE_KEY], event_id)
    if details is None or details["status"] == "draft":
        event: dict[str, Any] = {"event_id": event_id, "name": f"Event {event_id}",
                                 "starts_at": None, "venue": {"name": ""}}
    else:
        event = details
    return render(request, "organizer/gate.html", {"event": event})


@routes.post("/venues/check")
async def check_seatmap(request: web.Request) -> web.Response:
    """Organizers and ops: check a seat-map document without saving it: every problem the
    editor can point at (`field`, `reason`) and what the venue would hold."""
    await require_principal(request, "organizer", "ops")
    doc = await read_seatmap(request, MAX_SEATMAP_BYTES)
    problems = await asyncio.to_thread(seatmap_problems, doc)
    return web.json_response({
        "valid": not problems,
        "problems": [{"field": field, "reason": reason} for field, reason in problems],
        "summary": _summary(doc)})


check_seatmap.max_body_bytes = MAX_SEATMAP_BYTES  # type: ignore[union-attr]


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a list in a (possibly invalid) document: nothing when it is no list."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    """Counts of what a (possibly invalid) document holds, for the preview. Any part may be
    of the wrong type (the problems list says so): it counts as empty here."""
    sections = _dicts(doc.get("sections"))
    zones = _dicts(doc.get("ga_zones"))
    seats = [seat for section in sections for row in _dicts(section.get("rows"))
             for seat in _dicts(row.get("seats"))]
    categories: dict[str, None] = {}
    for item in [*seats, *zones]:
        if isinstance(item.get("category"), str) and item["category"]:
            categories.setdefault(item["category"], None)
    capacity = sum(z["capacity"] for z in zones if type(z.get("capacity")) is int)
    return {"seats": len(seats), "sections": len(sections), "ga_zones": len(zones),
            "ga_capacity": capacity, "categories": list(categories)}


def _page(summary: str, who: str, with_event: bool = False) -> dict[str, Any]:
    return {"get": operation(
        summary, who=who, tags=["Organizer pages"],
        errors=(ApiErrorCode.EVENT_NOT_FOUND,) if with_event else (),
        parameters=[param("event_id", "path", ID_SCHEMA, "The event.")] if with_event else None,
        responses={200: ok({"type": "string"}, "The page.", content_type="text/html")})}


_ANYONE = "anyone may load it; its data is the organizer's and ops' only"
OPENAPI_PATHS: dict[str, Any] = {
    "/static/backoffice/{name}": {"get": operation(
        "The backoffice and gate pages' scripts and the vendored QR decoder", who="anyone",
        tags=["Organizer pages"], errors=(ApiErrorCode.NOT_FOUND,),
        parameters=[param("name", "path", {"type": "string"},
                          "A file of api/organizer/static/backoffice/.")],
        responses={200: ok({"type": "string"}, "The file.", content_type="text/plain")})},
    "/organizer": _page("The organizer's events and venues (HTML)", _ANYONE),
    "/organizer/venues/new": _page("A new venue from a seat-map document (HTML)", _ANYONE),
    "/organizer/events/new": _page("A new event (HTML)", _ANYONE),
    "/organizer/events/{event_id}": _page(
        "An event's dashboard: sales, holdbacks, attendees, refunds (HTML)", _ANYONE, True),
    "/organizer/events/{event_id}/edit": _page("Edit an event (HTML)", _ANYONE, True),
    "/organizer/events/{event_id}/gate": _page("The gate scanner (HTML)", _ANYONE, True),
    "/venues/check": {"post": operation(
        "Check a seat-map document without saving it", who="organizers and ops",
        tags=["Organizers"], signed_in=True,
        errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
                ApiErrorCode.PAYLOAD_TOO_LARGE),
        description="Answers 200 whether or not the document is valid: `problems` lists "
                    "every element it can point at (the first problem, then the first of "
                    "each row), `summary` what the venue would hold.",
        body=json_body({"$ref": "#/components/schemas/SeatMap"}, "The seat map."),
        responses={200: ok({"type": "object", "properties": {
            "valid": {"type": "boolean"}, "problems": {"type": "array"},
            "summary": {"type": "object"}}})})},
}
