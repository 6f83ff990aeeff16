"""Helpers of the box office's browser journeys: accounts, an event of a signed-in
organizer, axe-core checks and the documentation's screenshots."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, text

from engine.pricing import PriceTier
from engine.store.catalog import create_event, create_organizer, create_venue
from tests.browser.conftest import LiveServer
from tests.support.catalog_http import small_seatmap

PASSWORD = "correct horse battery"
SCREENSHOT_DIR_VARIABLE = "ONSALE_SCREENSHOT_DIR"
"""Set (e.g. to docs/img) to save every page the journeys visit, at desktop and phone width."""
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
BLOCKING_IMPACTS = ("serious", "critical")


async def new_account(page: Any, server: LiveServer, role: str = "fan",
                      name: str = "Robin Fan") -> tuple[str, str, int]:
    """(email, session token, user id) of a new account with `role`."""
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    reply = await page.request.post(server.url("/auth/register"), data={
        "email": email, "password": PASSWORD, "display_name": name})
    assert reply.status == 201, await reply.text()
    body = await reply.json()
    if role != "fan":
        with server.db_engine.begin() as conn:
            conn.execute(text("UPDATE users SET role = :role WHERE id = :id"),
                         {"role": role, "id": body["user"]["id"]})
    return email, body["token"], body["user"]["id"]


def organizer_event(engine: Engine, user_id: int, name: str, *, rows: int = 2,
                    seats_per_row: int = 6) -> int:
    """A published event on sale now, of an organizer the account `user_id` acts for."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        organizer = create_organizer(conn, "Journey Promotions", user_id)
        venue = create_venue(conn, small_seatmap("Journeyville", rows=rows,
                                                 seats_per_row=seats_per_row), organizer)
        return create_event(
            conn, organizer_id=organizer, venue_id=venue, name=name, category="concert",
            starts_at=now + timedelta(days=3), onsale_at=now - timedelta(minutes=1),
            price_tiers=[PriceTier("front", "Front", "A", 9000),
                         PriceTier("back", "Back", "B", 5000)],
            status="published", buyer_limit=4, description="A night of test music.")


async def sign_in(page: Any, server: LiveServer, email: str, next_path: str) -> None:
    await page.goto(server.url(f"/signin?next={next_path}"))
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: urlsplit(url).path == next_path)


async def check_page(page: Any, name: str) -> None:
    """No serious or critical axe-core violation on the page as it is now; with
    ONSALE_SCREENSHOT_DIR set, its screenshots at desktop and phone width."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    blocking = [v for v in results.response["violations"] if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"{name}: axe finds " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        f"{[node['target'] for node in v['nodes']][:3]}" for v in blocking)
    folder = os.environ.get(SCREENSHOT_DIR_VARIABLE)
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        await page.set_viewport_size(viewport)
        await page.wait_for_timeout(150)
        await page.screenshot(path=str(Path(folder) / f"{name}-{label}.png"), full_page=True)
    await page.set_viewport_size(size)
