"""Typed keys for what the application object carries.

Kept apart from `api.http.app` so handlers can import them without importing the
app factory (which imports every route module).
"""

from __future__ import annotations

import redis.asyncio
import sqlalchemy
from aiohttp import web

from api.launcher.settings import Settings

SETTINGS_KEY = web.AppKey("settings", Settings)
DB_ENGINE_KEY = web.AppKey("db_engine", sqlalchemy.Engine)
REDIS_KEY = web.AppKey("redis", redis.asyncio.Redis)


class Readiness:
    """What /readyz has learned and may remember: the schema, once current, stays current."""

    def __init__(self) -> None:
        self.migrations_current = False


READINESS_KEY = web.AppKey("readiness", Readiness)
