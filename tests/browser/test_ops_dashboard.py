"""The ops dashboard in headless Chromium, against a live server under a small load.

Ops sign in, watch the figures move while fans join and booking requests flow
through the real partition consumer (with its metrics hook), raise the
admission rate and see the admission controller follow it, and find the
change in the audit log. A fan who signs in is refused, visibly.

`ONSALE_TEST_OPS_SCREENSHOT=docs/img/ops-dashboard.png` also runs the load
longer and saves a screenshot of the dashboard there (how the docs' picture
is made).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from redis import Redis

from api.launcher.settings import Settings
from api.ops.autopilot_runner import AutopilotRunner
from api.ops.change_log import Actor
from api.ops.common import OPS_KEY
from api.ops.rooms import audited_room_change
from engine.store.db import make_engine
from tests.browser.conftest import LiveServer
from tests.support.booking import consumers_running, make_event
from workers.enqueue import RequestQueue
from workers.keys import Keys
from workers.partitions import partition_for

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
SCREENSHOT = os.environ.get("ONSALE_TEST_OPS_SCREENSHOT")


@pytest.fixture()
def partition_consumers(live_settings: Settings, redis_client: Redis) -> Iterator[None]:
    """As the shared fixture, but the consumers report through the metrics hook."""
    from workers.metrics import BatchMetrics
    from workers.partitions import all_partitions

    engine = make_engine(live_settings.database_url or "")
    keys = Keys(live_settings.redis_prefix)
    with consumers_running(redis_client, keys, engine,
                           all_partitions(live_settings.partitions, {}), "browser",
                           on_batch=BatchMetrics(redis_client, keys).on_batch):
        yield
    engine.dispose()


def make_account(engine: sa.Engine, role: str) -> str:
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO users (email, password_hash, role, display_name)"
            " VALUES (:email, :hash, :role, :role)"),
            {"email": email, "hash": PasswordHasher().hash(PASSWORD), "role": role})
    return email


@contextlib.asynccontextmanager
async def small_load(server: LiveServer, event_id: int, joins_per_second: float,
                     holds_per_second: float) -> AsyncIterator[None]:
    """Fans joining the line and booking requests on the event's partition, in the background."""
    settings = server.settings
    redis = server.app[OPS_KEY].redis
    room = server.app[OPS_KEY].room
    queue = RequestQueue(redis, Keys(settings.redis_prefix), settings.max_queue_depth)
    partition = partition_for(event_id, settings.partitions, {})
    stop = asyncio.Event()

    async def run() -> None:
        fan = holds = 0
        to_sell: list[tuple[float, int, str]] = []
        started = time.monotonic()
        while not stop.is_set():
            elapsed = time.monotonic() - started
            while fan < joins_per_second * elapsed:
                fan += 1
                await room.join(event_id, 500_000 + fan, time.time())
            while holds < holds_per_second * elapsed:
                holds += 1
                buyer = 700_000 + holds
                held = await queue.enqueue(event_id=event_id, buyer_id=buyer, kind="hold",
                                           params={"quantity": 1 + holds % 2},
                                           partition=partition)
                if holds % 3 == 0:  # a third of the fans buy two seconds later
                    to_sell.append((elapsed + 2, buyer, held.request_id))
            while to_sell and to_sell[0][0] <= elapsed:
                _, buyer, hold_id = to_sell.pop(0)
                await queue.enqueue(event_id=event_id, buyer_id=buyer, kind="sell",
                                    params={"hold_id": hold_id, "order_id": f"{hold_id}-o"},
                                    partition=partition)
            await asyncio.sleep(0.1)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        stop.set()
        await task


async def sign_in(page: Any, server: LiveServer, email: str, event_id: int | None) -> None:
    await page.goto(server.url("/ops" + (f"#event={event_id}" if event_id else "")))
    await page.get_by_role("heading", name="Sign in").wait_for()
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def figure(page: Any, name: str) -> str:
    return str(await page.locator(f'[data-figure="{name}"] b').inner_text())


def number(text: str) -> float:
    found = re.search(r"-?[\d,]+(\.\d+)?", text)
    return float(found.group(0).replace(",", "")) if found else 0.0


async def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


async def test_ops_watch_the_sale_and_steer_admissions(page: Any,
                                                       live_server: LiveServer) -> None:
    engine = live_server.db_engine
    event_id = make_event(engine, rows=20, seats_per_row=25, buyer_limit=8,
                          hold_ttl_seconds=30 if SCREENSHOT else 600)
    services = live_server.app[OPS_KEY]
    await audited_room_change(
        services, event_id, {"new_users_per_minute": 60, "max_active_users": 5000},
        Actor("setup"), sale="open")
    email = make_account(engine, "ops")
    await page.set_viewport_size({"width": 1440, "height": 1000})
    async with small_load(live_server, event_id, joins_per_second=15, holds_per_second=6):
        await sign_in(page, live_server, email, event_id)
        await page.locator("#dashboard").wait_for()
        await wait_until(lambda: _live(page), 15, "the live stream")

        async def waiting_grows() -> bool:
            return number(await figure(page, "waiting")) >= 20

        await wait_until(waiting_grows, 20, "the waiting room to fill")
        first = number(await figure(page, "waiting"))

        async def figures_move() -> bool:
            decisions = number(await figure(page, "decisions"))
            return decisions > 0 and number(await figure(page, "waiting")) != first

        await wait_until(figures_move, 20, "decisions and the line to move")
        latency = await figure(page, "latency")
        assert "ms" in latency, latency

        rate = page.get_by_label("New users per minute")
        await rate.fill("900")
        await page.get_by_role("button", name="Apply").click()
        await page.get_by_text("new_users_per_minute 60 → 900").wait_for()
        await page.locator("#audit").get_by_text(email).first.wait_for()

        async def controller_follows() -> bool:
            return number(await figure(page, "admitted")) >= 300

        await wait_until(controller_follows, 25, "admissions to follow the new rate")
        sub = await page.locator('[data-figure="admitted"] small').inner_text()
        assert "900" in sub
        assert await page.locator("#partitions tr.current").count() == 1
        if SCREENSHOT:
            await _autopilot_for_the_picture(page, live_server)


async def _autopilot_for_the_picture(page: Any, server: LiveServer) -> None:
    """Switch the autopilot on from the page and let it steer for a while, then take the
    screenshot (only when ONSALE_TEST_OPS_SCREENSHOT asks for one)."""
    assert SCREENSHOT is not None
    await page.get_by_label("adjust the admission rate automatically").check()
    await page.get_by_label("Max users/min").fill("1800")
    await page.get_by_role("button", name="Save autopilot").click()
    await page.get_by_text("Autopilot: enabled false → true").wait_for()
    runner = AutopilotRunner(server.app[OPS_KEY], "screenshot")
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    await asyncio.sleep(45)
    stop.set()
    await task
    Path(SCREENSHOT).parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOT, full_page=True)


async def _live(page: Any) -> bool:
    return str(await page.locator("#live").inner_text()) == "live"


async def test_a_fan_is_refused_visibly(page: Any, live_server: LiveServer) -> None:
    email = make_account(live_server.db_engine, "fan")
    await sign_in(page, live_server, email, None)
    refusal = page.get_by_role("heading", name="Not allowed")
    await refusal.wait_for()
    assert "ops role" in await page.locator("#refused-text").inner_text()
    assert await page.locator("#dashboard").is_hidden()
