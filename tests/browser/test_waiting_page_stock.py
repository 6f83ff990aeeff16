"""The waiting page shows the stock: tickets left, a warning when the fans ahead are expected
to take them all, and, when nothing is left, "Sold out" with the waiting list, within a poll;
joined, the notice links to the fan's waiting-list page."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import text

from api.fan.waitingroom_http import WAITING_ROOM_KEY
from api.http.appkeys import REDIS_KEY
from engine.store.waiting_list import offer_page_path
from tests.browser.conftest import LiveServer
from tests.browser.test_waiting_page import open_room, sign_up, waiting_page_path
from tests.support.booking import make_event

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.async_api", reason="the playwright package").expect


async def test_the_page_shows_stock_a_sell_out_warning_and_the_sell_out(
    page: Any, live_server: LiveServer
) -> None:
    event_id = make_event(live_server.db_engine)
    # Nobody is admitted (max_active_users 0): the fan stays behind the two fans ahead.
    await open_room(live_server, event_id, new_users_per_minute=6000, max_active_users=0)
    room = live_server.app[WAITING_ROOM_KEY]
    for early_fan in (900_001, 900_002):
        await room.join(event_id, early_fan, time.time())
    # The figures as the event's partition publishes them (workers.stock_figures): 3 tickets
    # left and nothing measured yet, so each fan is expected to take 2 (the prior).
    redis = live_server.app[REDIS_KEY]
    state = room.keys(event_id).state
    await redis.hset(state, "tickets_left", 3)

    await page.goto(live_server.url(waiting_page_path(live_server, event_id)))
    await sign_up(page)
    await page.get_by_role("heading", name="You are in line").wait_for()
    await expect(page.locator("#fig-ahead")).to_have_text("2")
    await expect(page.locator("#fig-stock")).to_have_text("3")
    warning = page.locator("#stock-warning")
    await expect(warning).to_be_visible()
    await expect(warning).to_contain_text("Likely to sell out before your turn")
    await expect(page.locator("#waiting-list")).to_be_hidden()

    await redis.hset(state, "tickets_left", 0)
    await page.get_by_role("heading", name="Sold out").wait_for(timeout=10_000)
    await expect(page.locator("#fig-stock")).to_have_text("0")
    await expect(page.locator("#waiting-list")).to_be_visible()
    await expect(warning).to_be_hidden()
    # Not really sold out in Postgres (the figure was set by hand): the list says so.
    await page.get_by_role("button", name="Join the waiting list").click()
    await expect(page.locator("#waiting-list-note")).to_contain_text("still on sale")
    await expect(page.locator("#waiting-list-link")).to_be_hidden()

    with live_server.db_engine.begin() as conn:  # now sold out in Postgres too
        conn.execute(text(
            "INSERT INTO seat_claims (event_id, seat_id, state)"
            " SELECT :e, s.id, 'blocked' FROM seats s JOIN events e ON e.venue_id = s.venue_id"
            " WHERE e.id = :e"), {"e": event_id})
    await page.get_by_role("button", name="Join the waiting list").click()
    await expect(page.locator("#waiting-list-note")).to_contain_text("on the waiting list")
    await page.get_by_role("link", name="See your place on the waiting list").click()
    await page.wait_for_url(f"**{offer_page_path(event_id)}")
    await expect(page.locator("#wl-place")).to_have_text("1")


async def test_an_intent_stated_in_line_lands_on_checkout_with_seats_held(
    page: Any, live_server: LiveServer
) -> None:
    event_id = make_event(live_server.db_engine, rows=2, seats_per_row=6)
    await open_room(live_server, event_id, new_users_per_minute=6000, max_active_users=0)

    await page.goto(live_server.url(waiting_page_path(live_server, event_id)))
    await sign_up(page)
    await page.get_by_role("heading", name="You are in line").wait_for()
    await page.get_by_label("Tickets").fill("3")
    await page.get_by_role("button", name="Hold these at my turn").click()
    await expect(page.locator("#intent-note")).to_contain_text("we will hold 3 tickets")

    await open_room(live_server, event_id, new_users_per_minute=6000, max_active_users=100)
    await page.wait_for_url(f"**/events/{event_id}/book", timeout=20_000)
    await page.locator("#hold").wait_for(state="visible", timeout=15_000)
    await expect(page.locator("#hold-seats li")).to_have_count(3)


async def test_a_fan_far_back_following_the_summary_hears_of_the_sell_out(
    page: Any, live_server: LiveServer
) -> None:
    event_id = make_event(live_server.db_engine)
    await open_room(live_server, event_id, new_users_per_minute=6000, max_active_users=0,
                    position_expiry_seconds=600)
    room = live_server.app[WAITING_ROOM_KEY]
    for early_fan in range(900_001, 900_081):  # 80 ahead: beyond the near-front margin
        await room.join(event_id, early_fan, time.time())
    redis = live_server.app[REDIS_KEY]
    await redis.hset(room.keys(event_id).state, "tickets_left", 500)

    summaries: list[str] = []
    page.on("request", lambda request: summaries.append(request.url)
            if request.method == "GET" and request.url.endswith(f"/events/{event_id}/queue")
            else None)
    await page.goto(live_server.url(waiting_page_path(live_server, event_id)))
    await sign_up(page)
    await page.get_by_role("heading", name="You are in line").wait_for()
    await expect(page.locator("#fig-stock")).to_have_text("500")
    for _ in range(100):  # far back: the page follows the shared summary
        if summaries:
            break
        await page.wait_for_timeout(100)
    assert summaries, "a fan far back reads the shared summary"

    await redis.hset(room.keys(event_id).state, "tickets_left", 0)
    await page.get_by_role("heading", name="Sold out").wait_for(timeout=10_000)
    await expect(page.locator("#waiting-list")).to_be_visible()
