"""An organizer runs a presale from the event dashboard in headless Chromium: creates it
(window, the tier it unlocks, a quota), issues single-use codes and downloads them as CSV,
sees an account let in against the quota once a fan redeems a code, and reads the sold-out
waiting list by status; axe-core finds nothing serious on the dashboard."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser.boxoffice_support import check_page, new_account, organizer_event, sign_in
from tests.browser.conftest import LiveServer
from tests.browser.test_boxoffice_journeys import unique_word

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.async_api", reason="the playwright package").expect


def local_input(moment: datetime) -> str:
    """What a datetime-local input holds (the browser's time zone is the machine's)."""
    return moment.astimezone().strftime("%Y-%m-%dT%H:%M")


async def test_an_organizer_creates_a_presale_issues_codes_and_watches_redemptions(
    page: Any, live_server: LiveServer
) -> None:
    email, _, organizer_id = await new_account(page, live_server, "organizer", "Presale Org")
    event_id = organizer_event(live_server.db_engine, organizer_id, f"{unique_word()} Club")
    _, fan_token, _ = await new_account(page, live_server, "fan", "Club Member")
    await sign_in(page, live_server, email, f"/organizer/events/{event_id}")
    await page.get_by_text("No presale yet.").wait_for()
    await expect(page.locator("#wl-waiting")).to_have_text("0")

    now = datetime.now()
    await page.get_by_label("Name").fill("Fan club")
    await page.get_by_label("Opens").fill(local_input(now - timedelta(hours=1)))
    await page.get_by_label("Closes").fill(local_input(now + timedelta(hours=1)))
    await page.get_by_label("Front (front)").check()
    await page.get_by_label("Quota (accounts)").fill("5")
    await page.get_by_role("button", name="Create presale").click()
    await page.get_by_text("Presale “Fan club” created.").wait_for()
    row = page.locator("#presales tbody tr", has_text="Fan club")
    await expect(row).to_contain_text("Front")
    await expect(row).to_contain_text("0 / 5")

    await row.get_by_label("Codes to issue for Fan club").fill("3")
    await row.get_by_role("button", name="Issue codes").click()
    await page.get_by_text("3 single-use codes issued for Fan club.").wait_for()
    async with page.expect_download() as waiting:
        await row.get_by_role("button", name="Download CSV").click()
    download = await waiting.value
    rows = list(csv.DictReader(io.StringIO(Path(await download.path()).read_text())))
    assert len(rows) == 3 and all(r["kind"] == "single_use" and not r["account_id"] for r in rows)
    await check_page(page, "event-dashboard-presales")

    redeemed = await page.request.post(
        live_server.url(f"/events/{event_id}/presale-access"), data={"code": rows[0]["code"]},
        headers={"Authorization": f"Bearer {fan_token}"})
    assert redeemed.status == 200, await redeemed.text()
    await page.reload()
    await expect(page.locator("#presales tbody tr", has_text="Fan club")).to_contain_text("1 / 5")

    await page.get_by_role("button", name="Create presale").click()  # nothing filled in
    await expect(page.locator("#presale-form-state")).to_contain_text("Give the window")
