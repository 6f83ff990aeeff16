"""The box office's pages over HTTP: browsers get HTML at the API's URLs and API clients
still get JSON there; the seat-map check names every problem; static files are served
from their folder only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import Engine

from engine.store.db import make_engine
from tests.support.catalog_http import account, make_listed_event, small_seatmap, unique_city

pytestmark = pytest.mark.e2e

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture()
def engine(database_url: str) -> Iterator[Engine]:
    db = make_engine(database_url)
    yield db
    db.dispose()


async def test_browsers_get_pages_and_api_clients_json_at_the_same_urls(
        client: TestClient[Any, Any], engine: Engine) -> None:
    city = unique_city()
    event_id = make_listed_event(engine, city=city)
    home = await client.get("/", headers=BROWSER)
    assert home.status == 200 and home.content_type == "text/html"
    assert "Content-Security-Policy" in home.headers
    document = await (await client.get("/")).json()
    assert set(document) == {"on_sale_now", "on_sale_soon", "categories", "cities"}

    browse = await client.get(f"/events?city={city}", headers=BROWSER)
    assert browse.status == 200 and f'href="/events/{event_id}"' in await browse.text()
    assert (await (await client.get(f"/events?city={city}")).json())["events"][0][
        "event_id"] == event_id
    bad = await client.get("/events?category=NOT-A-CATEGORY", headers=BROWSER)
    assert bad.status == 400 and bad.content_type == "text/html", "said on the page"

    page = await client.get(f"/events/{event_id}", headers=BROWSER)
    text = await page.text()
    assert page.status == 200 and "Choose seats" in text and "Availability" in text
    missing = await client.get("/events/999999999", headers=BROWSER)
    assert missing.status == 404 and missing.content_type == "text/html"

    search = await client.get("/search?q=" + city.split()[1][:5], headers=BROWSER)
    assert search.status == 200 and "<mark>" in await search.text()
    assert (await client.get("/search?q=", headers=BROWSER)).status == 200

    for path in ("/me/orders", "/me/tickets"):
        shell = await client.get(path, headers=BROWSER)
        assert shell.status == 200 and shell.content_type == "text/html", path
        signed_out = await client.get(path, headers={**BROWSER, "Authorization": "Bearer x"})
        assert signed_out.status == 401, "with a token it is the API, which refuses"
    for path in ("/signin", "/signup", "/signout", "/organizer", "/organizer/venues/new",
                 "/organizer/events/new", f"/organizer/events/{event_id}",
                 f"/organizer/events/{event_id}/edit", f"/organizer/events/{event_id}/gate",
                 "/me/tickets/1/print"):
        response = await client.get(path, headers=BROWSER)
        assert response.status == 200 and response.content_type == "text/html", path


async def test_static_files_come_from_their_folder_only(client: TestClient[Any, Any]) -> None:
    script = await client.get("/static/boxoffice/site.js")
    assert script.status == 200 and "javascript" in script.content_type
    assert (await client.get("/static/backoffice/vendor/jsqr/jsQR.js")).status == 200
    assert (await client.get("/static/backoffice/vendor/jsqr/LICENSE")).status == 200
    for path in ("/static/boxoffice/../storefront.py", "/static/boxoffice/nothing.js",
                 "/static/backoffice/%2e%2e/pages.py", "/static/backoffice/../../pages.py"):
        assert (await client.get(path)).status == 404, path


async def test_the_seatmap_check_names_every_problem_without_saving(
        client: TestClient[Any, Any], engine: Engine) -> None:
    organizer = await account(client, engine, "organizer")
    doc = small_seatmap(unique_city(), rows=3, seats_per_row=3, ga_capacity=50)
    headers = {**organizer, "Content-Type": "application/json"}

    valid = await (await client.post("/venues/check", data=json.dumps(doc),
                                     headers=headers)).json()
    assert valid == {"valid": True, "problems": [], "summary": {
        "seats": 9, "sections": 1, "ga_zones": 1, "ga_capacity": 50,
        "categories": ["A", "B", "GA"]}}
    doc["sections"][0]["rows"][0]["seats"][1]["x"] = -1
    doc["sections"][0]["rows"][2]["seats"][0]["label"] = ""
    checked = await (await client.post("/venues/check", data=json.dumps(doc),
                                       headers=headers)).json()
    assert checked["valid"] is False
    assert [p["field"] for p in checked["problems"]] == [
        "sections[0].rows[0].seats[1].x", "sections[0].rows[2].seats[0].label"]
    assert (await (await client.get("/venues", headers=organizer)).json())["venues"] == [], \
        "a check saves nothing"
    wrong_types = await client.post("/venues/check", headers=headers, data=json.dumps(
        {"name": "X", "city": "Y", "ga_zones": True, "sections": [{"rows": 3}]}))
    assert wrong_types.status == 200, await wrong_types.text()
    body = await wrong_types.json()
    assert body["valid"] is False and body["summary"]["seats"] == 0
    fan = await account(client, engine, "fan")
    assert (await client.post("/venues/check", data=json.dumps(doc),
                              headers={**fan, "Content-Type": "application/json"})).status == 403
