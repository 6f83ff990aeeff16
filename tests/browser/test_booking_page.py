"""The seat-selection page in headless Chromium: sign in, pick seats on the SVG map, see
another fan's hold appear live, release, ask for the best available, pay, get tickets."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from redis import Redis
from rq import Queue

from tests.browser.conftest import LiveServer
from tests.support.booking import make_event
from workers import payments
from workers.enqueue import SyncRequestQueue
from workers.gateways.sandbox import TestGateway
from workers.keys import Keys
from workers.partitions import partition_for
from workers.rqworker import SimpleWorkerWithoutCommands

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


async def shown(page: Any, selector: str) -> None:
    """Wait for a section to appear; on failure say what the page told the fan."""
    try:
        await page.locator(selector).wait_for(state="visible", timeout=10_000)
    except Exception as error:
        message = await page.locator("#message").inner_text()
        raise AssertionError(f"{selector} never showed; the page says: {message!r}") from error


async def register(page: Any, server: LiveServer) -> tuple[str, str]:
    email = f"fan-{uuid.uuid4().hex[:8]}@example.com"
    reply = await page.request.post(server.url("/auth/register"),
                                    data={"email": email, "password": PASSWORD})
    assert reply.status == 201
    return email, (await reply.json())["token"]


def payments_backend(server: LiveServer, redis_client: Redis) -> Queue:
    settings = server.settings
    keys = Keys(settings.redis_prefix)
    payments.configure(payments.PaymentsContext(
        redis=redis_client, keys=keys, gateway=TestGateway(),
        requests=SyncRequestQueue(redis_client, keys, settings.max_queue_depth),
        partition_of=lambda e: partition_for(e, settings.partitions, {}),
        **payments.postgres_parts(server.db_engine, b"k" * 32)))
    return Queue(keys.payments_queue_name(), connection=redis_client)


async def test_choose_seats_see_live_changes_and_pay(page: Any, live_server: LiveServer,
                                                     redis_client: Redis) -> None:
    event_id = make_event(live_server.db_engine, rows=2, seats_per_row=6, buyer_limit=4)
    email, _ = await register(page, live_server)
    _, rival_token = await register(page, live_server)

    await page.goto(live_server.url(f"/events/{event_id}/book"))
    await page.get_by_role("heading", name="Sign in to book").wait_for()
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.locator("#sign-in").wait_for(state="hidden")
    await page.locator("#booking[data-ready='true']").wait_for()
    seats = page.locator("#seat-map circle")
    assert await seats.count() == 12

    await seats.nth(0).click()
    await seats.nth(1).click()
    assert await page.locator("#selected-list li").count() == 2
    await page.get_by_role("button", name="Reserve selected seats").click()
    await shown(page, "#hold")
    assert await page.locator("#hold-seats li").count() == 2
    assert ":" in await page.locator("#hold-countdown").inner_text()

    rival = await page.request.post(
        live_server.url(f"/events/{event_id}/reservations"),
        data={"seats": [int(await seats.nth(11).get_attribute("data-seat-id"))]},
        headers={"Authorization": f"Bearer {rival_token}"})
    assert rival.status == 202
    await page.wait_for_function(  # the rival's hold arrives over SSE
        "() => document.querySelectorAll('#seat-map circle.taken').length >= 3")

    await page.get_by_role("button", name="Release these seats").click()
    await shown(page, "#best-available")
    await page.wait_for_function(
        "() => document.querySelectorAll('#seat-map circle.taken').length === 1")

    await page.locator("#best-quantity").fill("2")
    await page.get_by_role("button", name="Find seats").click()
    await shown(page, "#hold")
    assert await page.locator("#hold-seats li").count() == 2

    queue = payments_backend(live_server, redis_client)
    await page.locator("#card-number").fill("4242 4242 4242 4242")
    await page.get_by_role("button", name="Pay").click()
    for _ in range(100):
        SimpleWorkerWithoutCommands([queue], connection=redis_client).work(
            burst=True, with_scheduler=False)
        if await page.locator("#order-status").inner_text() == "paid":
            break
        await asyncio.sleep(0.1)
    assert await page.locator("#order-status").inner_text() == "paid"
    assert await page.locator("#tickets li").count() == 2
    assert "Paid" in await page.locator("#message").inner_text()
    await page.goto("about:blank")  # closes the live seat-map stream before the server stops


async def test_the_page_of_an_unknown_event_is_a_404(page: Any,
                                                     live_server: LiveServer) -> None:
    response = await page.goto(live_server.url("/events/987654321/book"))
    assert response.status == 404
    assert await page.get_by_role("heading", name="This event is not on sale").is_visible()
