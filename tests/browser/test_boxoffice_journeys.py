"""The box office in headless Chromium, page by page, with axe-core on every page:

- a fan goes from the home page through search to the event page, the line, seats and
  payment, and finds the QR ticket under My tickets and on its printable page; the
  organizer scans that ticket's QR image at the gate page: admitted, then refused as used;
- an organizer uploads a seat map with an error, sees it named and marked, fixes it, saves
  the venue, creates and publishes an event, which then appears on the home page;
- holdbacks block seats on the event's map that no fan can then hold; unblocking returns
  them.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis import Redis
from rq import SimpleWorker

from tests.browser.boxoffice_support import (
    check_page,
    new_account,
    organizer_event,
    sign_in,
)
from tests.browser.conftest import LiveServer
from tests.browser.test_booking_page import payments_backend
from tests.browser.test_waiting_page import open_room
from tests.support.catalog_http import small_seatmap

pytestmark = pytest.mark.browser

DECODE_QR = """async ([ticketId, token]) => {
  const reply = await fetch(`/me/tickets/${ticketId}/qr.png`,
                            {headers: {Authorization: `Bearer ${token}`}});
  const image = await createImageBitmap(await reply.blob());
  const canvas = document.createElement('canvas');
  canvas.width = image.width; canvas.height = image.height;
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  const pixels = context.getImageData(0, 0, image.width, image.height);
  const found = window.jsQR(pixels.data, pixels.width, pixels.height);
  return found ? found.data : null;
}"""


def unique_word() -> str:
    return "Zephyr" + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:6])


async def test_a_fan_buys_from_the_home_page_and_the_gate_admits_the_ticket_once(
        browser: Any, live_server: LiveServer, redis_client: Redis) -> None:
    fan_page = await (await browser.new_context()).new_page()
    fan_page.set_default_timeout(30_000)
    organizer_email, organizer_token, organizer_id = await new_account(
        fan_page, live_server, "organizer", "Gate Keeper")
    name = f"{unique_word()} Live"
    event_id = organizer_event(live_server.db_engine, organizer_id, name)
    await open_room(live_server, event_id)
    fan_email, _, _ = await new_account(fan_page, live_server, "fan", "Robin Fan")

    await sign_in(fan_page, live_server, fan_email, "/")
    await check_page(fan_page, "home")
    await fan_page.get_by_role("searchbox", name="Search events, artists, venues").fill(
        name.split()[0][:8])
    suggestion = fan_page.locator("#site-suggest a").first
    await suggestion.wait_for()
    assert await fan_page.locator("#site-suggest mark").count() >= 1, "matches are marked"
    await check_page(fan_page, "search-suggestions")
    await suggestion.click()

    await fan_page.wait_for_url(f"**/events/{event_id}")
    await fan_page.get_by_role("heading", name=name).wait_for()
    assert await fan_page.locator("#sections tbody tr").count() == 1
    await check_page(fan_page, "event")
    await fan_page.get_by_role("link", name="Join the line").click()
    await fan_page.wait_for_url(f"**/events/{event_id}/book", timeout=60_000)  # admitted

    seats = fan_page.locator("#seat-map circle")
    await fan_page.locator("#booking[data-ready='true']").wait_for()
    await seats.nth(0).click()
    await fan_page.get_by_role("button", name="Reserve selected seats").click()
    await fan_page.locator("#hold").wait_for(state="visible")
    queue = payments_backend(live_server, redis_client)
    await fan_page.locator("#card-number").fill("4242 4242 4242 4242")
    await fan_page.get_by_role("button", name="Pay").click()
    for _ in range(100):
        SimpleWorker([queue], connection=redis_client).work(burst=True, with_scheduler=False)
        if await fan_page.locator("#order-status").inner_text() == "paid":
            break
        await asyncio.sleep(0.1)
    assert await fan_page.locator("#order-status").inner_text() == "paid"

    await fan_page.goto(live_server.url("/me/tickets"))
    card = fan_page.locator("#tickets li.card").first
    await card.locator("img").wait_for()
    assert "Stalls, row A, seat 1" in await card.inner_text()
    await check_page(fan_page, "my-tickets")
    await fan_page.goto(live_server.url("/me/orders"))
    await fan_page.locator("#orders tbody tr").first.wait_for()
    assert "paid" in await fan_page.locator("#orders tbody").inner_text()
    await check_page(fan_page, "my-orders")
    await fan_page.goto(live_server.url("/me/tickets"))
    ticket_id = int(await fan_page.locator("#tickets li.card").first.get_attribute(
        "data-ticket-id"))
    await fan_page.goto(live_server.url(f"/me/tickets/{ticket_id}/print"))
    await fan_page.locator("#ticket-qr img").wait_for()
    payload = await fan_page.locator("[data-field=qr_payload]").inner_text()
    assert payload.startswith(f"{ticket_id}.")
    await check_page(fan_page, "ticket-print")
    fan_token = await fan_page.evaluate("localStorage.getItem('onsale.sessionToken')")

    gate = await (await browser.new_context()).new_page()
    gate.set_default_timeout(30_000)
    await sign_in(gate, live_server, organizer_email, f"/organizer/events/{event_id}/gate")
    await gate.get_by_role("heading", name=name).wait_for()
    await check_page(gate, "gate")
    scanned = await gate.evaluate(DECODE_QR, [ticket_id, fan_token])
    assert scanned == payload, "the QR image decodes (jsQR) to the ticket's payload"
    code = gate.get_by_label("Ticket code (as printed under the QR code)")
    await code.fill(scanned)
    await gate.get_by_role("button", name="Check ticket").click()
    verdict = gate.locator("#verdict-word")
    await gate.wait_for_function("() => document.getElementById('verdict-word')"
                                 ".textContent !== 'Ready'")
    assert await verdict.inner_text() == "Admitted"
    assert "Stalls, row A, seat 1" in await gate.locator("#verdict-reason").inner_text()
    await check_page(gate, "gate-admitted")
    await code.fill(scanned)
    await gate.get_by_role("button", name="Check ticket").click()
    await gate.wait_for_function("() => document.getElementById('verdict-word')"
                                 ".textContent === 'Refused'")
    assert "Already used" in await gate.locator("#verdict-reason").inner_text()
    assert await gate.locator("#count-admitted").inner_text() == "1"
    assert await gate.locator("#count-refused").inner_text() == "1"
    await check_page(gate, "gate-refused")
    await fan_page.goto("about:blank")
    await gate.goto("about:blank")


async def test_an_organizer_creates_a_venue_and_an_event_that_reaches_the_home_page(
        page: Any, live_server: LiveServer) -> None:
    email, _, _ = await new_account(page, live_server, "organizer", "Venue Builder")
    await sign_in(page, live_server, email, "/organizer")
    await check_page(page, "organizer")
    await page.get_by_role("link", name="New venue").click()
    document = small_seatmap("Journeyville", rows=2, seats_per_row=4,
                             name=f"{unique_word()} Hall")
    document["sections"][0]["rows"][1]["seats"][2]["x"] = 5000.0
    await page.get_by_label("Or paste the document").fill(json.dumps(document))
    await page.get_by_role("button", name="Check and preview").click()
    problem = page.locator("#problems li").first
    await problem.wait_for()
    assert "sections[0].rows[1].seats[2].x" in await problem.inner_text()
    assert await page.locator("#preview-map circle.problem").count() == 1, \
        "the bad seat is marked on the preview"
    assert await page.get_by_role("button", name="Save venue").is_disabled()
    await check_page(page, "venue-new-error")

    document["sections"][0]["rows"][1]["seats"][2]["x"] = 500.0
    await page.get_by_label("Or paste the document").fill(json.dumps(document))
    await page.get_by_role("button", name="Check and preview").click()
    await page.get_by_text("The seat map is valid").wait_for()
    assert await page.locator("#preview-map circle").count() == 8
    await check_page(page, "venue-new-preview")
    await page.get_by_role("button", name="Save venue").click()
    await page.get_by_role("link", name="Create an event at this venue").click()

    await page.wait_for_url("**/organizer/events/new?venue_id=*")
    await page.locator("#tiers .tier").nth(1).wait_for()
    name = f"{unique_word()} Premiere"
    now = datetime.now(UTC)
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("Description", exact=True).fill("The first night.")
    await page.get_by_label("Performers (comma-separated)").fill("The Journeys")
    local = "%Y-%m-%dT%H:%M"
    await page.get_by_label("Starts at (your local time)").fill(
        (now + timedelta(days=1)).astimezone().strftime(local))
    await page.get_by_label("On sale from (your local time)").fill(
        (now + timedelta(minutes=3)).astimezone().strftime(local))
    prices = page.get_by_label("Price", exact=True)
    await prices.nth(0).fill("80")
    await prices.nth(1).fill("45.50")
    await check_page(page, "event-new")
    await page.get_by_role("button", name="Create draft").click()

    await page.wait_for_url("**/organizer/events/*")
    await page.get_by_role("heading", name=name).wait_for()
    await page.get_by_role("button", name="Publish").click()
    await page.wait_for_function("() => document.getElementById('ev-where')"
                                 ".textContent.includes('published')")
    await page.get_by_role("button", name="Cancel event").click()
    warning = page.get_by_role("alertdialog", name="Cancel this event?")
    assert "refunded" in await warning.inner_text()
    await check_page(page, "event-dashboard-cancel-warning")
    await page.get_by_role("button", name="Keep the event").click()

    await page.goto(live_server.url("/"))
    soon = page.locator("section[aria-labelledby='soon-title']")
    await soon.get_by_role("link", name=name).wait_for()
    assert "On sale in" in await soon.locator("li", has_text=name).inner_text()


async def test_holdbacks_block_seats_no_fan_can_hold_and_unblocking_returns_them(
        page: Any, live_server: LiveServer) -> None:
    email, _, organizer_id = await new_account(page, live_server, "organizer", "Hold Back")
    event_id = organizer_event(live_server.db_engine, organizer_id, f"{unique_word()} Gala",
                               rows=1, seats_per_row=4)
    _, fan_token, _ = await new_account(page, live_server, "fan", "Hopeful Fan")
    await sign_in(page, live_server, email, f"/organizer/events/{event_id}")
    seats = page.locator("#holdback-map circle")
    await seats.nth(3).wait_for()
    await seats.nth(0).click()
    await seats.nth(1).click()
    await page.get_by_role("button", name="Hold back selected").click()
    await page.get_by_text("2 seat(s) held back.").wait_for()
    await page.locator("#holdback-map circle.blocked").nth(1).wait_for()
    await page.wait_for_function("() => [...document.querySelectorAll('#sales tfoot td')]"
                                 ".some(td => td.textContent === '2')")
    await check_page(page, "event-dashboard")

    async def reserve(seat_id: int) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {fan_token}"}
        reply = await page.request.post(live_server.url(f"/events/{event_id}/reservations"),
                                        data={"seats": [seat_id]}, headers=headers)
        accepted = await reply.json()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            state = await (await page.request.get(live_server.url(accepted["status_url"]),
                                                  headers=headers)).json()
            if state["status"] != "pending":
                return dict(state)
            await asyncio.sleep(0.05)
        raise AssertionError("no decision")

    blocked_ids = [int(await c.get_attribute("data-key"))
                   for c in await page.locator("#holdback-map circle.blocked").all()]
    refused = await reserve(blocked_ids[0])
    assert refused["status"] == "rejected" and refused["error"]["code"] == "seats_taken"

    await page.locator(f"#holdback-map circle[data-key='{blocked_ids[0]}']").click()
    await page.get_by_role("button", name="Put selected on sale").click()
    await page.get_by_text("1 seat(s) on sale again.").wait_for()
    assert (await reserve(blocked_ids[0]))["status"] == "held"
    assert (await reserve(blocked_ids[1]))["status"] == "rejected"


async def test_every_other_page_passes_axe(page: Any, live_server: LiveServer) -> None:
    """The pages the journeys do not pass through, as a visitor sees them."""
    email, _, organizer_id = await new_account(page, live_server, "organizer", "Page Checker")
    name = f"{unique_word()} Matinee"
    event_id = organizer_event(live_server.db_engine, organizer_id, name)
    word = name.split()[0]
    for path, label in (("/signup", "signup"), ("/signin", "signin"),
                        ("/events?category=concert", "browse"),
                        (f"/search?q={word}", "search"), ("/events/987654321", "not-found")):
        await page.goto(live_server.url(path))
        await page.locator("main h1").wait_for()
        await check_page(page, label)
    assert await page.locator("main h1").inner_text() == "Event not found"
    await sign_in(page, live_server, email, f"/organizer/events/{event_id}/edit")
    await page.wait_for_function("() => document.getElementById('ev-name').value !== ''")
    assert await page.locator("#ev-venue").is_disabled(), "fixed once published"
    await check_page(page, "event-edit")
    await page.goto(live_server.url(f"/events/{event_id}/waiting-list/page"))
    await page.locator("#wl-join").wait_for()
    await check_page(page, "waiting-list-join")
    await page.goto(live_server.url("/signout"))
    await page.get_by_text("You are signed out.").wait_for()
    await check_page(page, "signout")
