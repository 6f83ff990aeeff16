"""The fairness report page in headless Chromium: a fan in a shuffled pre-queue follows the
waiting page's link, and the page checks in the browser that the revealed seed hashes to the
commitment and that the fan's receipt is signed by the room and names the published place; a
tampered receipt does not check out. axe-core finds nothing serious on the page."""

from __future__ import annotations

import time
from typing import Any

import pytest

from api.fan.waitingroom_http import WAITING_ROOM_KEY
from tests.browser.boxoffice_support import check_page
from tests.browser.conftest import LiveServer
from tests.browser.test_waiting_page import open_room, sign_up, waiting_page_path
from tests.support.booking import make_event

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.async_api", reason="the playwright package").expect


async def test_a_fan_checks_the_draw_and_their_receipt_in_the_browser(
    page: Any, live_server: LiveServer
) -> None:
    event_id = make_event(live_server.db_engine)
    # A shuffled pre-queue: the sale starts in a minute; nobody is admitted meanwhile.
    await open_room(live_server, event_id, sale_starts_at=time.time() + 60, mode="shuffle",
                    max_active_users=0)
    room = live_server.app[WAITING_ROOM_KEY]
    for early_fan in (910_001, 910_002, 910_003):
        await room.join(event_id, early_fan, time.time())

    await page.goto(live_server.url(waiting_page_path(live_server, event_id)))
    await sign_up(page)
    link = page.get_by_role("link", name="Check your place")
    await link.wait_for()

    # The draw: ops move the start to now (the committed seed is kept), the next poll shuffles.
    # The start stays after the commitment (else the report rightly says `committed_late`).
    await page.wait_for_timeout(1000)
    await open_room(live_server, event_id, sale_starts_at=time.time() - 0.5, mode="shuffle",
                    max_active_users=0)
    await page.wait_for_timeout(1200)  # the report is cached for a second per process
    async with page.context.expect_page() as opened:
        await link.click()
    report = await opened.value
    await report.wait_for_load_state()
    assert "/fairness#receipt=" in report.url
    await expect(report.get_by_role("heading", name="Fairness report")).to_be_visible()
    await expect(report.locator("#seed-check")).to_have_text(
        "Checked in your browser: the seed hashes to the commitment.")
    await expect(report.locator("#no-anomalies")).to_be_visible()
    result = report.locator("#receipt-result")
    await expect(result).to_contain_text("Your receipt checks out.")
    await expect(result).to_contain_text("Signed by the room's key.")
    await expect(result).to_contain_text("the published order puts join number 4 there")
    await check_page(report, "fairness")

    receipt = await report.locator("#receipt").input_value()
    head, body, signature = receipt.split(".")
    tampered = ".".join((head, body, ("A" if signature[0] != "A" else "B") + signature[1:]))
    await report.locator("#receipt").fill(tampered)
    await report.get_by_role("button", name="Check my receipt").click()
    await expect(result).to_contain_text("Your receipt does not check out.")
    await expect(result).to_contain_text("Not signed by the room")
