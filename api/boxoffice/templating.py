"""The box office's Jinja2 environment (aiohttp-jinja2) and the filters its templates use."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


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


async def templates_ctx(app: web.Application) -> AsyncIterator[None]:
    environment = aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(("html",), default=True),
        undefined=jinja2.StrictUndefined)
    environment.filters.update(money=money, price_range=price_range, when=when)
    yield


def render(request: web.Request, template: str, context: Mapping[str, Any],
           status: int = 200) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, dict(context), status=status)
    response.headers.update({"Cache-Control": "no-cache", **SECURITY_HEADERS})
    return response


def not_found(request: web.Request, heading: str, message: str) -> web.Response:
    return render(request, "not_found.html", {"heading": heading, "message": message}, 404)


def bearer_less(request: web.Request) -> bool:
    """A page load (no Authorization header): the JSON comes later, fetched by the page."""
    return "Authorization" not in request.headers
