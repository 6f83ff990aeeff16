"""HTTP-level fixtures: the real app over a migrated throwaway database and the test Redis.

The database is created once per session under a unique name and dropped at
the end, so e2e runs never touch a developer's `onsale` database.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import Engine

from api.http.app import ApiRunner, create_app
from api.launcher.settings import Settings
from tests.support.databases import TEST_DATABASE_PREFIX, create_database, drop_database

pytestmark = pytest.mark.e2e

AiohttpClient = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


def migrated_database(pg_admin_url: str) -> Iterator[str]:
    """A migrated database of our own, made and dropped with the shared test helpers."""
    from engine.store.migrate import upgrade_to_head

    name = f"{TEST_DATABASE_PREFIX}e2e_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(pg_admin_url, name)
    try:
        upgrade_to_head(url)
        yield url
    finally:
        drop_database(pg_admin_url, name)


@pytest.fixture(scope="session")
def database_url(pg_admin_url: str) -> Iterator[str]:
    yield from migrated_database(pg_admin_url)


@pytest.fixture()
def engine(database_url: str) -> Iterator[Engine]:
    """A SQLAlchemy engine on the e2e database, for setting up and checking what HTTP cannot."""
    from engine.store.db import make_engine

    db = make_engine(database_url)
    yield db
    db.dispose()


@pytest.fixture()
def settings(database_url: str, redis_url: str, redis_prefix: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        demo_data=False,
        max_body_bytes=1024,
        signups_per_ip_per_minute=0,  # every test's accounts come from 127.0.0.1
        sign_ins_per_ip_per_minute=0,
    )


@pytest.fixture()
async def client(settings: Settings, aiohttp_client: AiohttpClient) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(settings))


@dataclass(frozen=True)
class LiveServer:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture()
def live_server(settings: Settings, redis_client: Any) -> Iterator[LiveServer]:
    """The app served as `onsale api` serves it (ApiRunner, aiohttp's parser limits and the
    JSON answers for what it refuses) from a thread with its own event loop, on a free
    127.0.0.1 port: for clients that speak only HTTP (raw sockets, Schemathesis)."""
    ready = threading.Event()
    state: dict[str, Any] = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        runner = ApiRunner(create_app(settings), access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        state["port"] = runner.addresses[0][1]
        state["loop"] = loop
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(15), "the app did not start"
    yield LiveServer("127.0.0.1", state["port"])
    state["loop"].call_soon_threadsafe(state["loop"].stop)
    thread.join(timeout=15)
