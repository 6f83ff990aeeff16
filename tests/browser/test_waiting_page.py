"""The waiting page in headless Chromium: a fan signs up, joins the line (solving the proof of
work in the page), watches the figures, is admitted and lands on seat selection holding an
admission token that books seats; and the page stops polling while its tab is hidden."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from api.fan.waitingroom_http import WAITING_ROOM_KEY
from tests.browser.conftest import LiveServer
from tests.support.booking import make_event
from waitingroom.config import RoomConfig

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.async_api", reason="the playwright package").expect


def waiting_page_path(server: LiveServer, event_id: int) -> str:
    """The waiting page's own URL (`/events/{id}` gives browsers the event page, whose
    "Join the line" leads here)."""
    return f"/events/{event_id}/waiting-room"


async def open_room(server: LiveServer, event_id: int, **changes: Any) -> None:
    now = time.time()
    values: dict[str, Any] = {
        "opens_at": now - 60,
        "sale_starts_at": now - 1,
        "new_users_per_minute": 120,
        "max_active_users": 100,
        "join_limit_per_account_per_minute": 100,
        "join_limit_per_ip_per_minute": 1000,
    }
    await server.app[WAITING_ROOM_KEY].configure(
        event_id, RoomConfig.from_mapping(values | changes)
    )


async def sign_up(page: Any) -> None:
    await page.get_by_role("heading", name="Sign in to join the line").wait_for()
    await page.get_by_label("Email").fill(f"fan-{uuid.uuid4().hex[:8]}@example.com")
    await page.get_by_label("Password").fill("correct horse battery")
    await page.get_by_role("button", name="Create an account").click()


async def test_from_joining_to_seat_selection(page: Any, live_server: LiveServer) -> None:
    event_id = make_event(live_server.db_engine, rows=2, seats_per_row=6)
    # Far enough ahead that sign-up and the proof of work end before it on a loaded machine;
    # once the page has said so, the sale is moved to now.
    sale_starts_at = time.time() + 60
    await open_room(live_server, event_id, sale_starts_at=sale_starts_at)
    room = live_server.app[WAITING_ROOM_KEY]
    for early_fan in (900_001, 900_002):  # two fans joined before us (their places are kept)
        await room.join(event_id, early_fan, time.time())
    await open_room(live_server, event_id, sale_starts_at=sale_starts_at, pow_difficulty_bits=12)

    await page.goto(live_server.url(waiting_page_path(live_server, event_id)))
    await sign_up(page)
    await page.get_by_role("heading", name="You are in line").wait_for()
    await expect(page.locator("#fig-position")).to_have_text("3")
    progress = page.get_by_role("progressbar", name="Progress through the line")
    assert await progress.is_visible()
    await expect(page.locator("#line-note")).to_contain_text("sale starts")
    await open_room(live_server, event_id, sale_starts_at=time.time(), pow_difficulty_bits=12)

    book_path = f"/events/{event_id}/book"
    await page.wait_for_url(f"**{book_path}", timeout=20_000)
    admission = await page.evaluate(
        "id => JSON.parse(sessionStorage.getItem('onsale.admission.' + id))", event_id
    )
    assert admission["token"].count(".") == 2 and admission["expires_at"] > time.time()

    booked = await page.evaluate(
        """async id => {
          const admission = JSON.parse(sessionStorage.getItem('onsale.admission.' + id));
          const headers = {
            'Authorization': 'Bearer ' + localStorage.getItem('onsale.sessionToken'),
            'Content-Type': 'application/json',
          };
          const reply = await fetch('/events/' + id + '/reservations', {
            method: 'POST',
            headers: {...headers, 'X-Admission-Token': admission.token},
            body: JSON.stringify({best_available: {quantity: 2}}),
          });
          const accepted = await reply.json();
          for (let i = 0; i < 100; i++) {
            const state = await (await fetch(accepted.status_url, {headers})).json();
            if (state.status !== 'pending') return {code: reply.status, state};
            await new Promise(resolve => setTimeout(resolve, 50));
          }
          return {code: reply.status, state: null};
        }""",
        event_id,
    )
    assert booked["code"] == 202
    assert booked["state"]["status"] == "held" and len(booked["state"]["seats"]) == 2


async def test_polling_pauses_while_the_tab_is_hidden(
    page: Any, live_server: LiveServer
) -> None:
    event_id = make_event(live_server.db_engine)
    await open_room(live_server, event_id, new_users_per_minute=6000, max_active_users=0)
    await live_server.app[WAITING_ROOM_KEY].join(event_id, 900_001, time.time())

    polls: list[float] = []
    page.on(
        "request",
        lambda request: polls.append(time.monotonic())
        if request.method == "GET" and f"/events/{event_id}/queue/" in request.url
        else None,
    )
    await page.goto(live_server.url(waiting_page_path(live_server, event_id)))
    await sign_up(page)
    await page.get_by_role("heading", name="You are in line").wait_for()
    for _ in range(120):  # in view, a fan near the front polls about every second
        if len(polls) >= 2:
            break
        await asyncio.sleep(0.05)
    assert len(polls) >= 2, "in view, the page polls"
    await page.evaluate(
        """() => {
          Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
          Object.defineProperty(document, 'visibilityState',
                                {configurable: true, get: () => 'hidden'});
          document.dispatchEvent(new Event('visibilitychange'));
        }"""
    )
    hidden_at = time.monotonic()
    await asyncio.sleep(3)
    assert not [t for t in polls if t > hidden_at + 0.2], "no polls while hidden"

    await page.evaluate(
        """() => {
          Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});
          Object.defineProperty(document, 'visibilityState',
                                {configurable: true, get: () => 'visible'});
          document.dispatchEvent(new Event('visibilitychange'));
        }"""
    )
    shown_at = time.monotonic()
    for _ in range(40):
        if [t for t in polls if t >= shown_at]:
            break
        await asyncio.sleep(0.05)
    assert [t for t in polls if t >= shown_at], "back in view: a poll at once"
    await expect(page.locator("#fig-ahead")).to_have_text("1")
