"""Browser fixtures: Debian's Chromium driven by Playwright, against a live onsale server.

No browser is ever downloaded: Playwright launches `/usr/bin/chromium`
(`tests/browser/ensure_chromium.sh` installs it when it can). Without Chromium
or the `playwright` package every browser test is skipped, with the reason.

`live_server` runs the real app (`create_app`) on a free 127.0.0.1 port in the
test's event loop, with a partition consumer thread per partition behind it
and the admission controller as a task, over the e2e test database and the
test Redis prefix, so a page can go from joining the line to a decided hold.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from redis import Redis
from sqlalchemy import Engine

from api.http.app import create_app
from api.launcher.settings import Settings
from engine.store.db import make_engine
from tests.e2e.conftest import database_url  # noqa: F401  (the migrated throwaway database)
from tests.support.booking import consumers_running
from waitingroom import main as controller_main

CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHUTDOWN_TIMEOUT_SECONDS = 2.0
"""A browser's keep-alive connections must not hold the server's shutdown for aiohttp's 60 s."""
CONTROLLER_INTERVAL_SECONDS = 0.1
"""Faster than in production (0.2 s) so tests wait less; the rate is the same."""


def chromium_executable() -> str | None:
    if os.access(CHROMIUM_PATH, os.X_OK):
        return CHROMIUM_PATH
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = chromium_executable()
    if path is None:
        pytest.skip(
            f"Chromium not found at {CHROMIUM_PATH}: run tests/browser/ensure_chromium.sh "
            "as root (apt-get install chromium) to run the browser tests"
        )
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")
    return path


@pytest.fixture()
async def browser(chromium_path: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture()
async def page(browser: Any, live_server: LiveServer) -> AsyncIterator[Any]:
    """A fresh page; closed before the live server stops (which it therefore needs)."""
    context = await browser.new_context()
    new_page = await context.new_page()
    new_page.set_default_timeout(15_000)
    try:
        yield new_page
    finally:
        await context.close()


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    settings: Settings
    app: web.Application
    db_engine: Engine

    def url(self, path: str) -> str:
        return self.base_url + path

    def has_get_route(self, path_template: str) -> bool:
        return any(
            route.method == "GET" and route.resource is not None
            and route.resource.canonical == path_template
            for route in self.app.router.routes()
        )


@pytest.fixture()
def live_settings(
    database_url: str,  # noqa: F811
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        data_dir=tmp_path,
        demo_data=False,
        partitions=1,
        signups_per_ip_per_minute=0,  # every test's fans sign up from 127.0.0.1
    )


@pytest.fixture()
def partition_consumers(live_settings: Settings, redis_client: Redis) -> Iterator[None]:
    """One consumer thread per partition: the booking worker behind the live server."""
    from workers.keys import Keys
    from workers.partitions import all_partitions

    engine = make_engine(live_settings.database_url or "")
    with consumers_running(redis_client, Keys(live_settings.redis_prefix), engine,
                           all_partitions(live_settings.partitions, {}), "browser"):
        yield
    engine.dispose()


@pytest.fixture()
async def live_server(
    live_settings: Settings, partition_consumers: None
) -> AsyncIterator[LiveServer]:
    """`redis_client` (via partition_consumers) deletes the test prefix's keys afterwards."""
    app = create_app(live_settings)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    stop = asyncio.Event()
    controller = asyncio.create_task(
        controller_main.serve(
            live_settings.redis_url or "",
            live_settings.redis_prefix,
            stop,
            CONTROLLER_INTERVAL_SECONDS,
        )
    )
    engine = make_engine(live_settings.database_url or "")
    try:
        yield LiveServer(f"http://{host}:{port}", live_settings, app, engine)
    finally:
        stop.set()
        await asyncio.wait_for(controller, 5)
        await runner.cleanup()
        engine.dispose()
