"""A fan's history: their orders (with seats) and their e-tickets, from Postgres.

Only ever the caller's own: the buyer id comes from the session, never from
the request, so no parameter can reach another fan's orders or tickets.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from api.fan.identity import require_principal
from api.http.appkeys import DB_ENGINE_KEY
from api.http.error_codes import ApiErrorCode
from api.http.openapi_spec import ok, operation, param
from api.http.params import decode_cursor, encode_cursor, invalid, query_int

routes = web.RouteTableDef()

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

_ORDERS = """
    SELECT o.order_id, o.event_id, o.status, o.total_cents, o.quantity, o.created_at,
           o.paid_at, o.refunded_at, e.name AS event_name, e.starts_at, e.currency,
           v.name AS venue_name, v.city
    FROM orders o JOIN events e ON e.id = o.event_id JOIN venues v ON v.id = e.venue_id
    WHERE o.buyer_id = :buyer_id {after}
    ORDER BY o.created_at DESC, o.order_id DESC LIMIT :limit"""
_LINES = sa.text("""
    SELECT l.order_id, l.line_no, l.seat_id, l.zone_id, l.quantity, l.price_cents,
           s.label AS seat, s.row_label AS row, sec.name AS section, z.name AS zone
    FROM order_lines l
    LEFT JOIN seats s ON s.id = l.seat_id
    LEFT JOIN sections sec ON sec.id = s.section_id
    LEFT JOIN ga_zones z ON z.id = l.zone_id
    WHERE l.order_id = ANY(CAST(:order_ids AS text[])) ORDER BY l.order_id, l.line_no""")
_TICKETS = """
    SELECT t.id, t.order_id, t.event_id, t.seat_id, t.zone_id, t.secret, t.status,
           t.issued_at, t.used_at, e.name AS event_name, e.starts_at, v.name AS venue_name,
           v.city, s.label AS seat, s.row_label AS row, sec.name AS section, z.name AS zone
    FROM tickets t
    JOIN orders o ON o.order_id = t.order_id
    JOIN events e ON e.id = t.event_id JOIN venues v ON v.id = e.venue_id
    LEFT JOIN seats s ON s.id = t.seat_id
    LEFT JOIN sections sec ON sec.id = s.section_id
    LEFT JOIN ga_zones z ON z.id = t.zone_id
    WHERE o.buyer_id = :buyer_id {after}
    ORDER BY t.id DESC LIMIT :limit"""


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _page_size(request: web.Request) -> int:
    limit = query_int(request, "limit", low=1, high=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE)
    assert limit is not None
    return limit


def read_orders(engine: sa.Engine, buyer_id: int, limit: int,
                after: tuple[datetime, str] | None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"buyer_id": buyer_id, "limit": limit}
    condition = ""
    if after is not None:
        condition = "AND (o.created_at, o.order_id) < (:after_at, :after_id)"
        params["after_at"], params["after_id"] = after
    with engine.connect() as conn:
        orders = conn.execute(sa.text(_ORDERS.format(after=condition)), params).all()
        lines = conn.execute(_LINES, {"order_ids": [o.order_id for o in orders]}).all()
    by_order: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_order.setdefault(line.order_id, []).append({
            "line_no": line.line_no, "seat_id": line.seat_id, "zone_id": line.zone_id,
            "section": line.section, "row": line.row, "seat": line.seat, "zone": line.zone,
            "quantity": line.quantity, "price_cents": line.price_cents})
    return [{
        "order_id": o.order_id, "status": o.status, "total_cents": o.total_cents,
        "currency": o.currency, "quantity": o.quantity, "created_at": _iso(o.created_at),
        "paid_at": _iso(o.paid_at), "refunded_at": _iso(o.refunded_at),
        "event": {"event_id": o.event_id, "name": o.event_name, "starts_at": _iso(o.starts_at),
                  "venue": o.venue_name, "city": o.city},
        "lines": by_order.get(o.order_id, []),
        "url": f"/orders/{o.order_id}",
    } for o in orders]


def read_tickets(engine: sa.Engine, buyer_id: int, limit: int,
                 before_id: int | None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"buyer_id": buyer_id, "limit": limit}
    condition = ""
    if before_id is not None:
        condition = "AND t.id < :before_id"
        params["before_id"] = before_id
    with engine.connect() as conn:
        rows = conn.execute(sa.text(_TICKETS.format(after=condition)), params).all()
    return [{
        "ticket_id": t.id, "order_id": t.order_id, "status": t.status,
        "event": {"event_id": t.event_id, "name": t.event_name, "starts_at": _iso(t.starts_at),
                  "venue": t.venue_name, "city": t.city},
        "section": t.section, "row": t.row, "seat": t.seat, "zone": t.zone,
        "issued_at": _iso(t.issued_at), "used_at": _iso(t.used_at),
        "qr_payload": f"{t.id}.{t.secret}",
    } for t in rows]


def _page_load(request: web.Request) -> bool:
    """A browser loading the page: it asks for HTML and sends no session token."""
    from api.fan.catalog import prefers_html

    return prefers_html(request) and "Authorization" not in request.headers


@routes.get("/me/orders")
async def my_orders(request: web.Request) -> web.Response:
    """Signed in: the caller's own orders, newest first, with their seats. A browser's page
    load gets the My orders page, which fetches them."""
    if _page_load(request):
        from api.fan import account_pages

        return await account_pages.orders_page(request)
    principal = await require_principal(request)
    limit = _page_size(request)
    cursor = decode_cursor(request)
    after = None
    if cursor is not None:
        try:
            after = (datetime.fromisoformat(cursor[0]), str(cursor[1]))
        except (IndexError, TypeError, ValueError):
            invalid("cursor", "is not a cursor this API returned")
        if len(cursor) != 2 or after[0].tzinfo is None:
            invalid("cursor", "is not a cursor this API returned")
    orders = await asyncio.to_thread(read_orders, request.app[DB_ENGINE_KEY],
                                     principal.user_id, limit, after)
    next_cursor = None
    if len(orders) == limit:
        last = orders[-1]
        next_cursor = encode_cursor([last["created_at"].replace("Z", "+00:00"),
                                     last["order_id"]])
    return web.json_response({"orders": orders, "next_cursor": next_cursor})


@routes.get("/me/tickets")
async def my_tickets(request: web.Request) -> web.Response:
    """Signed in: the caller's own e-tickets (with QR payloads), newest first. A browser's
    page load gets the My tickets page, which fetches them."""
    if _page_load(request):
        from api.fan import account_pages

        return await account_pages.tickets_page(request)
    principal = await require_principal(request)
    limit = _page_size(request)
    cursor = decode_cursor(request)
    before_id = None
    if cursor is not None:
        if len(cursor) != 1 or type(cursor[0]) is not int:
            invalid("cursor", "is not a cursor this API returned")
        before_id = cursor[0]
    tickets = await asyncio.to_thread(read_tickets, request.app[DB_ENGINE_KEY],
                                      principal.user_id, limit, before_id)
    next_cursor = encode_cursor([tickets[-1]["ticket_id"]]) if len(tickets) == limit else None
    return web.json_response({"tickets": tickets, "next_cursor": next_cursor})


_PAGING = [param("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                 "Page size (default 20)."),
           param("cursor", "query", {"type": "string"}, "`next_cursor` of the previous page.")]

OPENAPI_PATHS: dict[str, Any] = {
    "/me/orders": {"get": operation(
        "My orders", who="signed in: only the caller's own", tags=["Fan history"],
        signed_in=True,
        errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED,
                ApiErrorCode.FORBIDDEN), parameters=_PAGING,
        responses={200: ok({"type": "object", "properties": {
            "orders": {"type": "array"}, "next_cursor": {"type": ["string", "null"]}}})})},
    "/me/tickets": {"get": operation(
        "My tickets", who="signed in: only the caller's own", tags=["Fan history"],
        signed_in=True,
        errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED,
                ApiErrorCode.FORBIDDEN), parameters=_PAGING,
        responses={200: ok({"type": "object", "properties": {
            "tickets": {"type": "array"}, "next_cursor": {"type": ["string", "null"]}}})})},
}
