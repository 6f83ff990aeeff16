"""Every route table of the API, and the per-feature start-up contexts, in one place.

A feature module exposes a `web.RouteTableDef` named `routes` (add it to
`ROUTE_TABLES`) and, if it holds something for the app's lifetime, a cleanup
context (add it to `FEATURE_CONTEXTS`). Feature contexts start after the
shared clients (database engine, Redis) are open and stop before they close.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from api import (
    accounts,
    booking,
    booking_page,
    catalog,
    fan_history,
    health,
    live,
    metrics,
    openapi,
    ops,
    organizer,
    seatmap_live,
    waitingroom_http,
)

CleanupContext = Callable[[web.Application], AsyncIterator[None]]

ROUTE_TABLES: tuple[web.RouteTableDef, ...] = (
    health.routes,
    accounts.routes,
    booking.routes,
    waitingroom_http.routes,
    metrics.routes,
    ops.routes,
    catalog.routes,
    seatmap_live.routes,
    organizer.routes,
    fan_history.routes,
    booking_page.routes,
    openapi.routes,
)
FEATURE_CONTEXTS: tuple[CleanupContext, ...] = (
    accounts.accounts_ctx,
    live.results_hub_ctx,
    booking.booking_ctx,
    waitingroom_http.waiting_room_ctx,
    metrics.metrics_ctx,
    ops.ops_ctx,
    catalog.catalog_ctx,
)


def add_routes(app: web.Application) -> None:
    for table in ROUTE_TABLES:
        app.add_routes(table)


def add_feature_contexts(app: web.Application) -> None:
    app.cleanup_ctx.extend(FEATURE_CONTEXTS)
