"""Jinja2 templates for the HTML pages (aiohttp-jinja2), autoescaped.

Each room keeps its pages in its own `templates/` folder; a page is named by its
room: `fan/booking.html` is `api/fan/templates/booking.html`. Sub-apps (ops) find
the environment through the main app.
"""

from __future__ import annotations

import aiohttp_jinja2
import jinja2
from aiohttp import web

TEMPLATE_ROOMS = ("fan", "ops")
"""The `api.<room>` packages that have a `templates/` folder."""


def setup_templates(app: web.Application) -> None:
    loader = jinja2.PrefixLoader(
        {room: jinja2.PackageLoader(f"api.{room}", "templates") for room in TEMPLATE_ROOMS})
    aiohttp_jinja2.setup(app, loader=loader, autoescape=True, keep_trailing_newline=True,
                         undefined=jinja2.StrictUndefined)
