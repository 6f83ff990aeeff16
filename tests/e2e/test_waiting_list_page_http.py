"""The fan's waiting-list page over HTTP: served for a published event (with its tiers and
section names, no personal data), 404 for anything else, its data only for a signed-in fan;
the sold-out event page links to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from sqlalchemy import Engine

from engine.store.db import make_engine
from engine.store.waiting_list import offer_page_path
from tests.support.booking import make_event
from tests.support.catalog_http import quick_account

pytestmark = pytest.mark.e2e

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture()
def engine(database_url: str) -> Iterator[Engine]:
    db = make_engine(database_url)
    yield db
    db.dispose()


def sell_out(engine: Engine, event_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO seat_claims (event_id, seat_id, state)"
            " SELECT :e, s.id, 'blocked' FROM seats s JOIN events e ON e.venue_id = s.venue_id"
            " WHERE e.id = :e"), {"e": event_id})


async def test_the_page_of_a_published_event_offers_the_join_form_with_its_tiers(
        client: TestClient[Any, Any], engine: Engine) -> None:
    event_id = make_event(engine, rows=1, seats_per_row=2, buyer_limit=4)
    page = await client.get(offer_page_path(event_id), headers=BROWSER)
    text = await page.text()
    assert page.status == 200 and page.content_type == "text/html"
    assert "Content-Security-Policy" in page.headers, "the box office's page headers"
    assert page.headers["Cache-Control"] == "no-cache"
    assert 'id="wl-join-form"' in text and "Join the waiting list" in text
    assert '<option value="front">' in text and '<option value="back">' in text, "tiers"
    assert 'max="4"' in text, "no more than the buyer limit"
    assert "/static/boxoffice/waitlist.js" in text
    signed_in = await client.get(offer_page_path(event_id),
                                 headers={**BROWSER, **quick_account(engine, "fan")})
    assert await signed_in.text() == text, "the page carries no personal data"
    assert "still on sale" in text, "not sold out: the page says to book instead"


async def test_unknown_draft_and_malformed_events_have_no_page(
        client: TestClient[Any, Any], engine: Engine) -> None:
    missing = await client.get(offer_page_path(987654321), headers=BROWSER)
    assert missing.status == 404 and missing.content_type == "text/html"
    assert "Event not found" in await missing.text()
    as_json = await client.get(offer_page_path(987654321))
    assert as_json.status == 404
    assert (await as_json.json())["error"]["code"] == "event_not_found"
    assert (await client.get(offer_page_path("abc"), headers=BROWSER)).status == 404
    draft = make_event(engine, rows=1, seats_per_row=2)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE events SET status = 'draft' WHERE id = :id"), {"id": draft})
    assert (await client.get(offer_page_path(draft), headers=BROWSER)).status == 404


async def test_the_data_of_the_page_needs_a_signed_in_fan(
        client: TestClient[Any, Any], engine: Engine) -> None:
    event_id = make_event(engine, rows=1, seats_per_row=2)
    sell_out(engine, event_id)
    url = f"/events/{event_id}/waiting-list"
    assert (await client.get(url)).status == 401
    assert (await client.get(url, headers={"Authorization": "Bearer nope"})).status == 401
    fan = quick_account(engine, "fan")
    assert (await client.get(url, headers=fan)).status == 404, "not on the list yet"
    assert (await client.post(url, json={"quantity": 2}, headers=fan)).status == 201
    entry = await (await client.get(url, headers=fan)).json()
    assert entry["status"] == "waiting" and entry["place"] == 1


async def test_the_sold_out_event_page_links_to_the_waiting_list_page(
        client: TestClient[Any, Any], engine: Engine) -> None:
    on_sale = make_event(engine, rows=1, seats_per_row=2)
    assert offer_page_path(on_sale) not in await (
        await client.get(f"/events/{on_sale}", headers=BROWSER)).text()
    sold_out = make_event(engine, rows=1, seats_per_row=2)
    sell_out(engine, sold_out)
    page = await (await client.get(f"/events/{sold_out}", headers=BROWSER)).text()
    assert f'href="{offer_page_path(sold_out)}"' in page and "Sold out." in page
    offer_page = await (await client.get(offer_page_path(sold_out), headers=BROWSER)).text()
    assert "This event is sold out." in offer_page
