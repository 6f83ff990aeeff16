"""The waiting-list page in headless Chromium, with the real offer-round loop and partition
consumer behind it: an event sells out, a fan joins the list on the page, another fan's
hold is released, the offer appears on the page (seats, total, countdown), the fan buys it
and sees the tickets; and an offer left to run out shows as lapsed, with the join form."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import text

from engine.store.waiting_list import offer_page_path
from tests.browser.boxoffice_support import check_page, new_account, sign_in
from tests.browser.conftest import LiveServer
from tests.browser.test_booking_page import payments_backend
from tests.e2e.test_waiting_list_offers_http import offer_queue as e2e_offer_queue
from tests.support.booking import make_event
from workers.rqworker import SimpleWorkerWithoutCommands
from workers.waiting_list import offer_round, run_offer_rounds

pytestmark = pytest.mark.browser

OFFER_ROUND_TEST_SECONDS = 0.2
"""Faster than in production (1 s) so tests wait less."""


def offer_queue(server: LiveServer, redis_client: Redis) -> Any:
    """Offer requests onto the event's partition queue, as the payments worker sends them."""
    return e2e_offer_queue(redis_client, server.settings)


@contextmanager
def offer_rounds(server: LiveServer, redis_client: Redis,
                 offer_ttl_seconds: float | None = None) -> Iterator[None]:
    """The offer rounds on a thread, as the payments worker runs them: the real loop
    (`run_offer_rounds`), or with a short offer time, rounds of the same `offer_round`."""
    stop = threading.Event()
    enqueue = offer_queue(server, redis_client)
    if offer_ttl_seconds is None:
        thread = threading.Thread(
            target=run_offer_rounds, args=(server.db_engine, enqueue, stop),
            kwargs={"interval": lambda: OFFER_ROUND_TEST_SECONDS,
                    "site_url": server.base_url}, daemon=True)
    else:
        ttl = offer_ttl_seconds

        def rounds() -> None:
            while not stop.is_set():
                offer_round(server.db_engine, enqueue, offer_ttl_seconds=ttl,
                            site_url=server.base_url)
                stop.wait(OFFER_ROUND_TEST_SECONDS)

        thread = threading.Thread(target=rounds, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


async def hold_seats(page: Any, server: LiveServer, event_id: int, token: str,
                     quantity: int) -> dict[str, Any]:
    """Another fan's hold, over the JSON API, followed to its decision."""
    headers = {"Authorization": f"Bearer {token}"}
    accepted = await page.request.post(
        server.url(f"/events/{event_id}/reservations"),
        data={"best_available": {"quantity": quantity}},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    assert accepted.status == 202, await accepted.text()
    return await decided(page, server, (await accepted.json())["request_id"], headers)


async def decided(page: Any, server: LiveServer, request_id: str,
                  headers: dict[str, str]) -> dict[str, Any]:
    for _ in range(200):
        state: dict[str, Any] = await (await page.request.get(
            server.url(f"/requests/{request_id}"), headers=headers)).json()
        if state["status"] != "pending":
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"request {request_id} was never decided")


async def sold_out_event(page: Any, server: LiveServer) -> tuple[int, list[tuple[str, str]]]:
    """An event of 4 seats held by two other fans, 2 each: (event, [(token, hold id)])."""
    event_id = make_event(server.db_engine, rows=1, seats_per_row=4, buyer_limit=4)
    holders = []
    for name in ("Rival One", "Rival Two"):
        _, token, _ = await new_account(page, server, "fan", name)
        held = await hold_seats(page, server, event_id, token, 2)
        assert held["status"] == "held", held
        holders.append((token, held["hold_id"]))
    return event_id, holders


async def join_on_the_page(page: Any, server: LiveServer, event_id: int) -> None:
    email, _, _ = await new_account(page, server, "fan", "Robin Waiting")
    await sign_in(page, server, email, offer_page_path(event_id))
    await page.locator("#wl-join").wait_for()
    assert "sold out" in await page.locator("#wl-join").inner_text()
    await page.get_by_label("Tickets").fill("2")
    await page.get_by_role("button", name="Join the waiting list").click()
    await page.locator("#wl-waiting").wait_for()
    assert await page.locator("#wl-place").inner_text() == "1"
    assert "number 1" in await page.locator("#wl-state").inner_text()
    await check_page(page, "waiting-list-place")


async def release(page: Any, server: LiveServer, token: str, hold_id: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    accepted = await page.request.delete(
        server.url(f"/holds/{hold_id}"),
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    assert accepted.status == 202, await accepted.text()
    assert (await decided(page, server, (await accepted.json())["request_id"],
                          headers))["status"] == "released"


async def test_a_fan_joins_on_the_page_is_offered_released_seats_and_buys_them(
        page: Any, live_server: LiveServer, redis_client: Redis) -> None:
    event_id, holders = await sold_out_event(page, live_server)
    await join_on_the_page(page, live_server, event_id)

    with offer_rounds(live_server, redis_client):
        await release(page, live_server, *holders[0])
        await page.locator("#wl-offer").wait_for(timeout=20_000)
        seats = page.locator("#wl-offer-seats li")
        assert await seats.count() == 2
        assert "row" in await seats.first.inner_text() and "seat" in await seats.first.inner_text()
        assert await page.locator("#wl-offer-total").inner_text() == "180.00 EUR"
        countdown = await page.locator("#wl-countdown").inner_text()
        assert countdown.startswith(("9:", "10:")), countdown
        assert await page.evaluate("document.activeElement.id") == "wl-offer-title", \
            "focus moves to the offer"
        await check_page(page, "waiting-list-offer")

        with live_server.db_engine.connect() as conn:
            body = conn.execute(text(
                "SELECT n.body FROM notifications n JOIN waiting_list_entries w"
                " ON w.hold_id = n.order_id WHERE n.kind = 'waitlist_offer'"
                " AND w.event_id = :e"), {"e": event_id}).scalar_one()
        assert live_server.url(offer_page_path(event_id)) in body, \
            "the offer mail links to the fan's waiting-list page"

        queue = payments_backend(live_server, redis_client)
        await page.get_by_label("Card number").fill("4242 4242 4242 4242")
        await page.get_by_role("button", name="Buy these seats").click()
        for _ in range(100):
            SimpleWorkerWithoutCommands([queue], connection=redis_client).work(
                burst=True, with_scheduler=False)
            if await page.locator("#wl-order").is_visible():
                break
            await asyncio.sleep(0.1)
        assert await page.locator("#wl-order-status").inner_text() == "paid"
        assert await page.locator("#wl-tickets li").count() == 2
        links = page.get_by_role("link", name="printable ticket")
        assert await links.count() == 2
        assert (await links.first.get_attribute("href")).split("/")[3].isdigit(), \
            "each ticket links to its printable page"
        await check_page(page, "waiting-list-paid")

        await page.reload()  # the next round marks the entry taken
        await page.locator("#wl-taken").wait_for(timeout=10_000)


async def test_an_offer_left_to_run_out_shows_as_lapsed_with_the_join_form(
        page: Any, live_server: LiveServer, redis_client: Redis) -> None:
    event_id, holders = await sold_out_event(page, live_server)
    await join_on_the_page(page, live_server, event_id)

    with offer_rounds(live_server, redis_client, offer_ttl_seconds=4):
        await release(page, live_server, *holders[0])
        await page.locator("#wl-offer").wait_for(timeout=20_000)
        await page.locator("#wl-lapsed").wait_for(timeout=20_000)
        assert await page.locator("#wl-join").is_visible(), "the fan may join again"
        assert "ended" in await page.locator("#wl-state").inner_text()
        await check_page(page, "waiting-list-lapsed")
        for _ in range(100):  # the partition expires the hold, the round marks it lapsed
            with live_server.db_engine.connect() as conn:
                status = conn.execute(text(
                    "SELECT status FROM waiting_list_entries WHERE event_id = :e"),
                    {"e": event_id}).scalar_one()
            if status == "lapsed":
                break
            await asyncio.sleep(0.1)
        assert status == "lapsed", "the offer lapsed on the server too"
        await page.reload()
        await page.locator("#wl-lapsed").wait_for()
