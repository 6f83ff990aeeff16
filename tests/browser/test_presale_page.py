"""The waiting page during a presale, in headless Chromium: a fan without access is asked
for a code instead of joining; a mistyped code is refused with a clear message; a valid one
lets the fan in and the page joins the line at once. axe-core finds nothing serious."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.store import presales
from tests.browser.boxoffice_support import check_page
from tests.browser.conftest import LiveServer
from tests.browser.test_waiting_page import open_room, sign_up, waiting_page_path
from tests.support.booking import make_event

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.async_api", reason="the playwright package").expect


async def test_a_code_holder_enters_the_code_on_the_waiting_page_and_joins(
    page: Any, live_server: LiveServer
) -> None:
    event_id = make_event(live_server.db_engine)
    await open_room(live_server, event_id, max_active_users=0)
    now = datetime.now(UTC)
    presale = presales.create_presale(live_server.db_engine, event_id, "Fan club",
                                      now - timedelta(minutes=5), now + timedelta(hours=1),
                                      ["front"], 10)
    [code] = presales.issue_codes(live_server.db_engine, presale.id,
                                  presales.CodeKind.SINGLE_USE, 1)

    await page.goto(live_server.url(waiting_page_path(live_server, event_id)))
    await sign_up(page)
    await page.get_by_role("heading", name="Presale: code holders only").wait_for()
    await expect(page.locator("#presale-note")).to_contain_text("then it opens to everyone")
    await check_page(page, "waiting-presale")

    await page.get_by_label("Your access code").fill("NOTACODE2345")
    await page.get_by_role("button", name="Use my code and join").click()
    await expect(page.locator("#presale-error")).to_contain_text("does not open a presale")

    await page.get_by_label("Your access code").fill(code.lower())
    await page.get_by_role("button", name="Use my code and join").click()
    await page.get_by_role("heading", name="You are in line").wait_for()
    accounts = presales.presale(live_server.db_engine, presale.id)
    assert accounts is not None and accounts.redeemed == 1
