"""The ops side of the API: dashboard page, live figures, waiting-room controls, change log.

`create_ops_app` is the ops sub-app, mounted at `/ops`: every route the modules
below register on `routes`, the dashboard's static files, and one guard
(`common.ops_guard`) that lets only the ops role in. `ops_ctx` is the
app-lifetime context (services and the stats hub); it runs on the main app, so
the services are there for `/metrics` too, and ops handlers find them through
`request.config_dict`. `OPENAPI_PATHS` documents the routes. The autopilot runs
in its own process (`api.ops.autopilot_runner.serve`, started by the launcher's
`run_autopilot`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from api.http.appkeys import DB_ENGINE_KEY, REDIS_KEY, SETTINGS_KEY
from api.http.static_files import add_static_folder
from api.ops import change_log, live, pages, rooms
from api.ops.common import OPS_KEY, make_services, ops_guard, routes

__all__ = ["OPENAPI_PATHS", "OPS_PREFIX", "create_ops_app", "ops_ctx", "routes"]

OPS_PREFIX = "/ops"


def create_ops_app() -> web.Application:
    """The ops sub-app: its routes and static files, behind the ops guard."""
    ops_app = web.Application(middlewares=[ops_guard])
    ops_app.add_routes(routes)
    add_static_folder(ops_app.router, "/static", pages.STATIC_DIR)
    return ops_app


async def ops_ctx(app: web.Application) -> AsyncIterator[None]:
    app[OPS_KEY] = make_services(app[SETTINGS_KEY], app[REDIS_KEY], app[DB_ENGINE_KEY])
    hub = live.StatsHub(app[OPS_KEY])
    app[live.HUB_KEY] = hub
    yield
    await hub.close()


OPENAPI_PATHS: dict[str, Any] = {
    **pages.OPENAPI_PATHS,
    **live.OPENAPI_PATHS,
    **rooms.OPENAPI_PATHS,
    **change_log.OPENAPI_PATHS,
}
