"""The ops side of the API: dashboard page, live figures, waiting-room controls, audit log.

`routes` holds every ops route (the modules below register on it), `ops_ctx`
is the app-lifetime context (services and the stats hub), `OPENAPI_PATHS`
documents the routes. The autopilot runs in its own process
(`api.ops.autopilot_runner.run`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from api.http.appkeys import DB_ENGINE_KEY, REDIS_KEY, SETTINGS_KEY
from api.ops import audit, live, pages, rooms
from api.ops.common import OPS_KEY, make_services, routes

__all__ = ["OPENAPI_PATHS", "ops_ctx", "routes"]


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
    **audit.OPENAPI_PATHS,
}
