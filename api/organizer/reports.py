"""An event's organizer (and ops) read its sale: sales per tier, attendees (JSON or a CSV
export), refunds.

The SQL is in `engine.store.sales_reports`; here the caller is checked and the answer
shaped. The CSV export is streamed a page of tickets at a time, so a stadium's list is
never held in memory whole.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from aiohttp import web

from api.fan.booking import enqueue_request, refundable_payment
from api.fan.identity import require_principal
from api.http.appkeys import DB_ENGINE_KEY
from api.http.body_schema import object_schema
from api.http.error_codes import ApiErrorCode, BookingCode
from api.http.errors import ApiError, read_json
from api.http.openapi_spec import ID_SCHEMA, json_body, ok, operation, param
from api.http.params import decode_cursor, encode_cursor, invalid, path_id, query_int
from api.organizer.csv_export import csv_lines
from api.organizer.events import managed_event
from engine.store import sales_reports, waiting_list

routes = web.RouteTableDef()

MAX_ATTENDEES_PAGE = 500


@dataclass(frozen=True)
class EventOrderRefund:
    """The body of an organizer's refund (unknown properties are ignored)."""

    order_id: Annotated[str, {"minLength": 1, "maxLength": 200}]
    """A paid order of this event."""

    @classmethod
    def from_json(cls, body: Any) -> EventOrderRefund:
        order_id = body.get("order_id") if isinstance(body, dict) else None
        if not isinstance(order_id, str) or not 0 < len(order_id) <= 200:
            invalid("order_id", "must be an order id of this event")
        return cls(order_id)


async def _event_of_organizer(request: web.Request) -> int:
    principal = await require_principal(request, "organizer", "ops")
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    await managed_event(request, principal, event_id)
    return event_id


@routes.get("/organizer/events/{event_id}/sales")
async def event_sales(request: web.Request) -> web.Response:
    """Per price tier: capacity, sold, held, blocked, available, revenue; and the totals."""
    event_id = await _event_of_organizer(request)
    sales = await asyncio.to_thread(sales_reports.event_sales, request.app[DB_ENGINE_KEY],
                                    event_id)
    if sales is None:
        raise ApiError(ApiErrorCode.EVENT_NOT_FOUND, "No such event.", {"event_id": event_id})
    return web.json_response(sales.to_json(), headers={"Cache-Control": "no-store"})


@routes.get("/organizer/events/{event_id}/attendees")
async def attendees(request: web.Request) -> web.Response:
    """One page of the event's tickets with their buyers, in ticket order."""
    event_id = await _event_of_organizer(request)
    limit = query_int(request, "limit", low=1, high=MAX_ATTENDEES_PAGE, default=100)
    assert limit is not None
    cursor = decode_cursor(request)
    after = 0
    if cursor is not None:
        if len(cursor) != 1 or type(cursor[0]) is not int:
            invalid("cursor", "is not a cursor this API returned")
        after = cursor[0]
    page = await asyncio.to_thread(sales_reports.attendees_page, request.app[DB_ENGINE_KEY],
                                   event_id, after, limit)
    next_cursor = encode_cursor([page[-1].ticket_id]) if len(page) == limit else None
    return web.json_response({"attendees": [a.to_json() for a in page],
                              "next_cursor": next_cursor,
                              "csv_url": f"/organizer/events/{event_id}/attendees.csv"})


@routes.get("/organizer/events/{event_id}/attendees.csv")
async def attendees_csv(request: web.Request) -> web.StreamResponse:
    """Every ticket of the event as CSV, streamed a page at a time."""
    event_id = await _event_of_organizer(request)
    engine = request.app[DB_ENGINE_KEY]
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="event-{event_id}-attendees.csv"',
        "Cache-Control": "no-store"})
    await response.prepare(request)
    await response.write(csv_lines([sales_reports.ATTENDEE_COLUMNS]).encode())
    after = 0
    while True:
        page = await asyncio.to_thread(sales_reports.attendees_page, engine, event_id, after)
        if page:
            rows = [[getattr(a, column) for column in sales_reports.ATTENDEE_COLUMNS]
                    for a in page]
            await response.write(csv_lines(rows).encode())
        if len(page) < sales_reports.ATTENDEE_PAGE_SIZE:
            break
        after = page[-1].ticket_id
    await response.write_eof()
    return response


@routes.post("/organizer/events/{event_id}/refunds")
async def refund_order(request: web.Request) -> web.Response:
    """The event's organizer and ops: refund one paid order of the event (`{"order_id"}`),
    as ops' `POST /orders/{id}/refund` does: decided on the event's partition in queue order
    (order refunded, tickets void, seats back on sale), then the money goes back. 202."""
    principal = await require_principal(request, "organizer", "ops")
    event_id = await _event_of_organizer(request)
    order_id = EventOrderRefund.from_json(await read_json(request)).order_id
    payment = await refundable_payment(request, order_id)
    if payment.event_id != event_id:
        raise ApiError(BookingCode.ORDER_NOT_FOUND, "No such order of this event.",
                       {"order_id": order_id, "event_id": event_id})
    return await enqueue_request(request, principal, event_id, "refund", {"order_id": order_id})


@routes.get("/organizer/events/{event_id}/refunds")
async def event_refunds(request: web.Request) -> web.Response:
    """The event's refunded orders (by ops, or all of them when it was cancelled)."""
    event_id = await _event_of_organizer(request)
    rows = await asyncio.to_thread(sales_reports.refunds, request.app[DB_ENGINE_KEY], event_id)
    return web.json_response({"refunds": rows})


@routes.get("/organizer/events/{event_id}/waiting-list")
async def event_waiting_list(request: web.Request) -> web.Response:
    """How many fans wait on the event's sold-out list, have an offer out, bought or let one
    lapse (counts by entry status; no fan's identity)."""
    event_id = await _event_of_organizer(request)
    counts = await asyncio.to_thread(waiting_list.status_counts, request.app[DB_ENGINE_KEY],
                                     event_id)
    return web.json_response({"event_id": event_id, "entries": counts},
                             headers={"Cache-Control": "no-store"})


_EVENT_ID = param("event_id", "path", ID_SCHEMA, "The event.")
_REPORT: Any = {"who": "the event's organizer and ops",
           "errors": (ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED,
                      ApiErrorCode.FORBIDDEN, ApiErrorCode.EVENT_NOT_FOUND),
           "signed_in": True, "tags": ["Organizers"], "parameters": [_EVENT_ID]}

OPENAPI_PATHS: dict[str, Any] = {
    "/organizer/events/{event_id}/sales": {"get": operation(
        "Live sales per price tier", **_REPORT,
        description="Capacity, sold, held, blocked (holdbacks), available and revenue (paid "
                    "orders) per tier, from the last committed batch; totals with paid and "
                    "refunded orders and tickets checked in.",
        responses={200: ok({"type": "object"})})},
    "/organizer/events/{event_id}/attendees": {"get": operation(
        "Attendees (tickets with their buyers)", **{**_REPORT, "parameters": [
            _EVENT_ID,
            param("limit", "query", {"type": "integer", "minimum": 1,
                                     "maximum": MAX_ATTENDEES_PAGE}, "Page size (100)."),
            param("cursor", "query", {"type": "string"}, "From the previous page.")]},
        responses={200: ok({"type": "object"})})},
    "/organizer/events/{event_id}/attendees.csv": {"get": operation(
        "Attendees as CSV", **_REPORT,
        description="Every ticket: ticket, order, statuses, buyer e-mail and name, place, "
                    "paid and used times. Cells a spreadsheet would run as a formula (starting "
                    "with = + - @) are prefixed with `'`.",
        responses={200: ok({"type": "string"}, "CSV.", content_type="text/csv")})},
    "/organizer/events/{event_id}/waiting-list": {"get": operation(
        "The sold-out waiting list by entry status", **_REPORT,
        description="Entries waiting, with an offer request out (offering, standing), offered, "
                    "taken (bought), lapsed and left; counts only.",
        responses={200: ok({"type": "object"})})},
    "/organizer/events/{event_id}/refunds": {
        "get": operation("Refunded orders", **_REPORT, responses={200: ok({"type": "object"})}),
        "post": operation(
            "Refund a paid order of the event", who="the event's organizer and ops",
            errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED,
                    ApiErrorCode.FORBIDDEN, ApiErrorCode.EVENT_NOT_FOUND,
                    BookingCode.ORDER_NOT_FOUND, ApiErrorCode.ORDER_NOT_REFUNDABLE,
                    ApiErrorCode.IDEMPOTENCY_CONFLICT, ApiErrorCode.QUEUE_FULL),
            signed_in=True, tags=["Organizers"],
            parameters=[_EVENT_ID],
            description="Decided in queue order on the event's partition (order refunded, "
                        "tickets void, seats back on sale); the payments worker gives the "
                        "money back and the buyer gets a mail. Poll `status_url` for refunded "
                        "or rejected. 409 `order_not_refundable` (not paid, or the event was "
                        "cancelled: refunds are automatic then).",
            body=json_body(object_schema(EventOrderRefund, closed=False)),
            responses={202: ok({"type": "object"}, "Accepted, pending.")}),
    },
}
