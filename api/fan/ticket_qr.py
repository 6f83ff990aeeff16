"""A fan's e-ticket QR code as an image: only the ticket's buyer gets it.

The image is the gate's key, so it is as private as the ticket: another fan's ticket id
answers 404 (not 403: it does not exist for the caller), and it is never cached by shared
caches.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from api.fan.identity import require_principal
from api.http.appkeys import DB_ENGINE_KEY
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError
from api.http.openapi_spec import ID_SCHEMA, ok, operation, param
from api.http.params import path_id
from engine.store.etickets import owned_ticket
from workers.ticket_qr import qr_png, qr_svg

routes = web.RouteTableDef()

_PRIVATE = {"Cache-Control": "private, no-store"}


async def my_ticket(request: web.Request) -> dict[str, Any]:
    """The caller's ticket named in the path, or 404 `ticket_not_found`."""
    principal = await require_principal(request)
    ticket_id = path_id(request, "ticket_id", ApiErrorCode.TICKET_NOT_FOUND, "ticket")
    ticket = await asyncio.to_thread(owned_ticket, request.app[DB_ENGINE_KEY], ticket_id,
                                     principal.user_id)
    if ticket is None:
        raise ApiError(ApiErrorCode.TICKET_NOT_FOUND, "No such ticket of yours.",
                       {"ticket_id": ticket_id})
    return ticket


@routes.get("/me/tickets/{ticket_id}")
async def ticket(request: web.Request) -> web.Response:
    """The ticket's buyer: the ticket with its event, place, holder and QR payload."""
    found = await my_ticket(request)
    moments = {name: found[name].isoformat() if found[name] else None
               for name in ("starts_at", "used_at")}
    return web.json_response({**found, **moments}, headers=_PRIVATE)


@routes.get("/me/tickets/{ticket_id}/qr.svg")
async def ticket_qr_svg(request: web.Request) -> web.Response:
    """The ticket's buyer: its QR code as SVG."""
    ticket = await my_ticket(request)
    svg = await asyncio.to_thread(qr_svg, ticket["qr_payload"],
                                  f"E-ticket {ticket['ticket_id']}: {ticket['place']}")
    return web.Response(text=svg, content_type="image/svg+xml", headers=_PRIVATE)


@routes.get("/me/tickets/{ticket_id}/qr.png")
async def ticket_qr_png(request: web.Request) -> web.Response:
    """The ticket's buyer: its QR code as PNG."""
    ticket = await my_ticket(request)
    png = await asyncio.to_thread(qr_png, ticket["qr_payload"])
    return web.Response(body=png, content_type="image/png", headers=_PRIVATE)


_TICKET = [param("ticket_id", "path", ID_SCHEMA, "One of the caller's tickets (GET /me/tickets).")]
_QR: Any = {"who": "the ticket's buyer",
           "errors": (ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
                      ApiErrorCode.TICKET_NOT_FOUND), "signed_in": True,
       "tags": ["Fan history"], "parameters": _TICKET}

OPENAPI_PATHS: dict[str, Any] = {
    "/me/tickets/{ticket_id}": {"get": operation(
        "One of my tickets", **_QR, responses={200: ok({"type": "object"})})},
    "/me/tickets/{ticket_id}/qr.svg": {"get": operation(
        "My ticket's QR code (SVG)", **_QR,
        responses={200: ok({"type": "string"}, "SVG.", content_type="image/svg+xml")})},
    "/me/tickets/{ticket_id}/qr.png": {"get": operation(
        "My ticket's QR code (PNG)", **_QR,
        responses={200: ok({"type": "string", "format": "binary"}, "PNG.",
                           content_type="image/png")})},
}
