"""Jinja2 templates for the HTML pages (aiohttp-jinja2), autoescaped.

Each room keeps its pages in its own `templates/` folder; a page is named by its
room: `fan/booking.html` is `api/fan/templates/booking.html`. Sub-apps (ops) find
the environment through the main app.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

TEMPLATE_ROOMS = ("fan", "organizer", "ops")
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
"""The box office's pages (storefront, account, backoffice, gate): scripts and styles of
this origin only; the QR images and the CSV export are blob: URLs the page makes."""
"""The `api.<room>` packages that have a `templates/` folder."""


def setup_templates(app: web.Application) -> None:
    loader = jinja2.PrefixLoader(
        {room: jinja2.PackageLoader(f"api.{room}", "templates") for room in TEMPLATE_ROOMS})
    environment = aiohttp_jinja2.setup(app, loader=loader, autoescape=True,
                                       keep_trailing_newline=True,
                                       undefined=jinja2.StrictUndefined)
    environment.filters.update(money=money, price_range=price_range, when=when)


def money(cents: int | None, currency: str = "") -> str:
    if cents is None:
        return "–"
    return f"{cents // 100:,}.{cents % 100:02d} {currency}".strip()


def price_range(price: Mapping[str, Any]) -> str:
    low, high, currency = price.get("min_cents"), price.get("max_cents"), price.get("currency")
    if low is None:
        return ""
    if high is None or high == low:
        return money(low, currency or "")
    return f"{money(low)} – {money(high, currency or '')}"


def when(moment: str | datetime | None) -> str:
    """A date and time as fans read it (UTC, as the API gives it)."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment.astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")


def render(request: web.Request, template: str, context: Mapping[str, Any],
           status: int = 200) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, dict(context), status=status)
    response.headers.update({"Cache-Control": "no-cache", **PAGE_HEADERS})
    return response


def not_found(request: web.Request, heading: str, message: str) -> web.Response:
    return render(request, "fan/not_found.html", {"heading": heading, "message": message}, 404)

