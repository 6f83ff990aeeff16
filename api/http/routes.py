"""Every route table of the API, the ops sub-app, and the per-feature start-up contexts.

A feature module exposes a `web.RouteTableDef` named `routes` (add it to
`ROUTE_TABLES`) and, if it holds something for the app's lifetime, a cleanup
context (add it to `FEATURE_CONTEXTS`). Ops routes go on `api.ops.routes`: they are
served by the ops sub-app at `/ops`, behind its guard. `/openapi.json` and `/docs`
are added last and document whatever the app serves. Feature contexts start after the
shared clients (database engine, Redis) are open and stop before they close.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from api import ops
from api.fan import (
    account_pages,
    accounts,
    booking,
    booking_page,
    catalog,
    draw_http,
    fairness_page,
    fan_history,
    fan_pages,
    presale_http,
    results_hub,
    seatmap_live,
    storefront,
    ticket_qr,
    waiting_list_http,
    waiting_list_page,
    waitingroom_http,
)
from api.http import health, metrics, openapi
from api.http.static_files import add_static_folder
from api.organizer import events, holdbacks, pages, presales, reports, scans, venues

CleanupContext = Callable[[web.Application], AsyncIterator[None]]

ROUTE_TABLES: tuple[web.RouteTableDef, ...] = (
    health.routes,
    accounts.routes,
    booking.routes,
    waitingroom_http.routes,
    draw_http.routes,
    fairness_page.routes,
    presale_http.routes,
    waiting_list_http.routes,
    waiting_list_page.routes,
    presales.routes,
    metrics.routes,
    seatmap_live.routes,
    venues.routes,
    events.routes,
    scans.routes,
    fan_history.routes,
    ticket_qr.routes,
    holdbacks.routes,
    reports.routes,
    booking_page.routes,
    storefront.routes,
    account_pages.routes,
    pages.routes,
)
STATIC_FOLDERS: tuple[tuple[str, Path], ...] = (
    ("/static/booking", booking_page.STATIC_DIR),
    ("/static/waitingroom", fan_pages.STATIC_DIR),
    ("/static/boxoffice", storefront.STATIC_DIR),
    ("/static/backoffice", pages.STATIC_DIR),
)
"""The fan pages' and the organizer pages' scripts, styles and vendored libraries (the ops
sub-app serves its own)."""
FEATURE_CONTEXTS: tuple[CleanupContext, ...] = (
    accounts.accounts_ctx,
    results_hub.results_hub_ctx,
    booking.booking_ctx,
    waitingroom_http.waiting_room_ctx,
    metrics.metrics_ctx,
    ops.ops_ctx,
    catalog.catalog_ctx,
)


def add_routes(app: web.Application) -> None:
    for table in ROUTE_TABLES:
        app.add_routes(table)
    for prefix, directory in STATIC_FOLDERS:
        add_static_folder(app.router, prefix, directory)
    app.add_subapp(ops.OPS_PREFIX, ops.create_ops_app())
    openapi.add_api_reference(app)


def add_feature_contexts(app: web.Application) -> None:
    app.cleanup_ctx.extend(FEATURE_CONTEXTS)
