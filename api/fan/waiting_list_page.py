"""The fan's page of an event's sold-out waiting list: the place in it, then the offer.

A client of the JSON API like the other box office pages: the server renders only the
event's public details (name, tiers, section names); the page loads the fan's entry with
the session token (localStorage) from `GET /events/{id}/waiting-list`, polls it every few
seconds while waiting, and when seats are offered shows them (`GET /requests/{hold_id}`:
an offer is a hold), their total and a countdown to the offer's end, and checks them out
on the page (`POST /holds/{hold_id}/purchase`, then the order with its tickets). The
booking page is not used for this: it is built around the seat map and an admission
token, and an offer needs neither. The offer mail links here (`offer_page_path`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.fan import catalog
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError
from api.http.openapi_spec import ID_SCHEMA, ok, operation, param
from api.http.params import path_id
from api.http.templates import not_found, render
from engine.store.waiting_list import MAX_WAITING_LIST_QUANTITY, offer_page_path

routes = web.RouteTableDef()

POLL_SECONDS = 3
"""How often the page asks for the fan's entry while it may change (waiting, offering)."""


def _page_context(event: dict[str, Any]) -> dict[str, Any]:
    sections = {str(s["section_id"]): s["name"] for s in event["availability"]["sections"]
                if s.get("section_id") is not None}
    return {"event": event, "sections": sections, "poll_seconds": POLL_SECONDS,
            "max_quantity": min(event["buyer_limit"], MAX_WAITING_LIST_QUANTITY),
            "sold_out": event["availability"]["status"] == "sold_out"}


@routes.get(offer_page_path("{event_id}"))
async def waiting_list_page(request: web.Request) -> web.Response:
    """Anyone (the page signs the fan in): the fan's place on the event's waiting list, or
    the seats offered to them, with checkout."""
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    try:
        event = await catalog.event_document(request, event_id)
    except ApiError as error:
        if error.status != 404:
            raise
        event = None
    if event is None or event["status"] != "published":
        if not catalog.prefers_html(request):
            raise ApiError(ApiErrorCode.EVENT_NOT_FOUND, "No such event.", {"event_id": event_id})
        return not_found(request, "Event not found", "There is no event at this address.")
    return render(request, "fan/waiting_list.html", _page_context(event))


OPENAPI_PATHS: dict[str, Any] = {
    offer_page_path("{event_id}"): {"get": operation(
        "The fan's waiting-list page (HTML): place, offer, checkout",
        who="anyone (the page asks to sign in)", tags=["Fan pages"],
        errors=(ApiErrorCode.EVENT_NOT_FOUND,),
        parameters=[param("event_id", "path", ID_SCHEMA, "A published event.")],
        description="The page loads the entry from GET /events/{event_id}/waiting-list and "
                    "checks an offer out with POST /holds/{hold_id}/purchase.",
        responses={200: ok({"type": "string"}, "HTML.", content_type="text/html"),
                   404: ok({"type": "string"}, "No published event (HTML for browsers).",
                           content_type="text/html")})},
}
