"""Account pages: sign up, sign in, sign out, my orders, my tickets, a printable ticket.

The pages carry no personal data: they load it from the JSON API with the session token
(localStorage), so `GET /me/orders` and `GET /me/tickets` answer a page load (a browser,
no Authorization header) with the page and the page's own call with JSON.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.http.error_codes import ApiErrorCode
from api.http.openapi_spec import ID_SCHEMA, ok, operation, param
from api.http.params import path_id
from api.http.templates import render

routes = web.RouteTableDef()


@routes.get("/signin")
async def signin_page(request: web.Request) -> web.Response:
    """Anyone: the sign-in page (it posts to /auth/login)."""
    return render(request, "fan/signin.html", {"mode": "signin"})


@routes.get("/signup")
async def signup_page(request: web.Request) -> web.Response:
    """Anyone: the sign-up page (it posts to /auth/register)."""
    return render(request, "fan/signin.html", {"mode": "signup"})


@routes.get("/signout")
async def signout_page(request: web.Request) -> web.Response:
    """Anyone: signs the browser out (/auth/logout) and says so."""
    return render(request, "fan/signout.html", {})


async def orders_page(request: web.Request) -> web.Response:
    return render(request, "fan/my_orders.html", {})


async def tickets_page(request: web.Request) -> web.Response:
    return render(request, "fan/my_tickets.html", {})


@routes.get("/me/tickets/{ticket_id}/print")
async def printable_ticket(request: web.Request) -> web.Response:
    """Anyone may load the page; it shows the ticket only to its buyer (JSON from
    GET /me/tickets/{id})."""
    ticket_id = path_id(request, "ticket_id", ApiErrorCode.TICKET_NOT_FOUND, "ticket")
    return render(request, "fan/ticket_print.html", {"ticket_id": ticket_id})


def _page(summary: str, who: str = "anyone (the page asks to sign in)") -> dict[str, Any]:
    return {"get": operation(summary, who=who, tags=["Account pages"], errors=(),
                             responses={200: ok({"type": "string"}, "The page.",
                                                content_type="text/html")})}


OPENAPI_PATHS: dict[str, Any] = {
    "/signin": _page("The sign-in page"),
    "/signup": _page("The sign-up page"),
    "/signout": _page("The sign-out page"),
    "/me/tickets/{ticket_id}/print": {"get": operation(
        "A printable e-ticket (HTML)", who="anyone (only the ticket's buyer sees it)",
        tags=["Account pages"], errors=(ApiErrorCode.TICKET_NOT_FOUND,),
        parameters=[param("ticket_id", "path", ID_SCHEMA, "The ticket.")],
        responses={200: ok({"type": "string"}, "The page.", content_type="text/html")})},
}
