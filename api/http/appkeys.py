"""Typed keys for what the application object carries.

Kept apart from `api.http.app` so handlers can import them without importing the
app factory (which imports every route module). The feature rooms (fan, organizer,
ops) take the `Settings` type from here too: they read settings from the app they
serve, never from the launcher that made them.
"""

from __future__ import annotations

import redis.asyncio
import sqlalchemy
from aiohttp import web

from api.launcher.settings import Settings
from workers.gateway import PaymentGateway

__all__ = ["DB_ENGINE_KEY", "GATEWAY_KEY", "READINESS_KEY", "READ_ENGINE_KEY", "REDIS_KEY",
           "SETTINGS_KEY", "Readiness", "Settings"]

SETTINGS_KEY = web.AppKey("settings", Settings)
DB_ENGINE_KEY = web.AppKey("db_engine", sqlalchemy.Engine)
READ_ENGINE_KEY = web.AppKey("read_engine", sqlalchemy.Engine)
"""Browse and search only: the replica of `database_read_url`, else the same engine as
DB_ENGINE_KEY. Holds, sales and every other read use DB_ENGINE_KEY."""
REDIS_KEY = web.AppKey("redis", redis.asyncio.Redis)
GATEWAY_KEY = web.AppKey("payment_gateway", PaymentGateway)


class Readiness:
    """What /readyz has learned and may remember: the schema, once current, stays current."""

    def __init__(self) -> None:
        self.migrations_current = False


READINESS_KEY = web.AppKey("readiness", Readiness)
