"""HTTP-level fixtures: the real app over a migrated throwaway database and the test Redis.

The database is created once per session under a unique name and dropped at
the end, so e2e runs never touch a developer's `onsale` database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.http.app import create_app
from api.launcher.settings import Settings
from tests.support.databases import TEST_DATABASE_PREFIX, create_database, drop_database

pytestmark = pytest.mark.e2e

AiohttpClient = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


@pytest.fixture(scope="session")
def database_url(pg_admin_url: str) -> Iterator[str]:
    """A migrated database of our own, made and dropped with the shared test helpers."""
    from engine.store.migrate import upgrade_to_head

    name = f"{TEST_DATABASE_PREFIX}e2e_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(pg_admin_url, name)
    try:
        upgrade_to_head(url)
        yield url
    finally:
        drop_database(pg_admin_url, name)


@pytest.fixture()
def settings(database_url: str, redis_url: str, redis_prefix: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        demo_data=False,
        max_body_bytes=1024,
    )


@pytest.fixture()
async def client(settings: Settings, aiohttp_client: AiohttpClient) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(settings))
