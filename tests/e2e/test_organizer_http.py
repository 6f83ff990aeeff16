"""Organizers over HTTP: venues from seat maps (with errors that point at the bad element),
events from draft to published to cancelled, and a cancelled event stops selling."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import Engine

from api.fan.sale_status import ensure_on_sale
from engine.store.db import make_engine
from tests.support.catalog_http import account, small_seatmap, unique_city

pytestmark = pytest.mark.e2e


@pytest.fixture()
def engine(database_url: str) -> Iterator[Engine]:
    db = make_engine(database_url)
    yield db
    db.dispose()


def _when(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def event_body(venue_id: int, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    body = {
        "name": "Lantern Festival", "description": "Lights and music.", "category": "concert",
        "venue_id": venue_id, "starts_at": _when(30), "onsale_at": _when(-1),
        "price_tiers": [{"category": "A", "price_cents": 8000, "name": "Front"},
                        {"category": "B", "price_cents": 5000}],
        "performers": ["The Lanterns", {"name": "Second Act", "kind": "band"}],
        "currency": "GBP", "buyer_limit": 4,
    }
    body.update(overrides or {})
    return body


async def create_venue(client: TestClient[Any, Any], headers: dict[str, str],
                       doc: dict[str, Any]) -> Any:
    return await client.post("/venues", data=json.dumps(doc),
                             headers={**headers, "Content-Type": "application/json"})


async def test_venue_upload_accepts_large_maps_and_points_at_errors(
        client: TestClient[Any, Any], engine: Engine) -> None:
    organizer = await account(client, engine, "organizer")
    big = small_seatmap(unique_city(), rows=20, seats_per_row=30)  # > the 1 KiB test body limit
    response = await create_venue(client, organizer, big)
    assert response.status == 201, await response.text()
    venue = await response.json()
    assert venue["seats"] == 600 and venue["sections"] == 1

    bad = small_seatmap(unique_city())
    bad["sections"][0]["rows"][1]["seats"][3]["x"] = "left"
    response = await create_venue(client, organizer, bad)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["details"]["field"] == "sections[0].rows[1].seats[3].x"
    assert "must be a number" in error["details"]["reason"]

    typo = small_seatmap(unique_city())
    typo["sections"][0]["rows"][0]["seats"][0]["acessible"] = True
    error = (await (await create_venue(client, organizer, typo)).json())["error"]
    assert error["details"]["field"] == "sections[0].rows[0].seats[0].acessible"

    response = await client.post("/venues", data=b"{not json",
                                 headers={**organizer, "Content-Type": "application/json"})
    assert response.status == 400

    listed = await (await client.get("/venues", headers=organizer)).json()
    assert [v["venue_id"] for v in listed["venues"]] == [venue["venue_id"]]
    shown = await (await client.get(f"/venues/{venue['venue_id']}", headers=organizer)).json()
    assert shown["seatmap"]["name"] == big["name"]


async def test_event_lifecycle_draft_publish_update_cancel(
        client: TestClient[Any, Any], engine: Engine) -> None:
    organizer = await account(client, engine, "organizer")
    city = unique_city()
    venue = await (await create_venue(client, organizer, small_seatmap(city))).json()
    response = await client.post("/events", json=event_body(venue["venue_id"]),
                                 headers=organizer)
    assert response.status == 201, await response.text()
    event = await response.json()
    event_id = event["event_id"]
    assert event["status"] == "draft"
    assert [p["name"] for p in event["performers"]] == ["The Lanterns", "Second Act"]

    browse = await (await client.get(f"/events?city={city}")).json()
    assert browse["events"] == [], "drafts are not in the catalog"
    anonymous = await client.get(f"/events/{event_id}", headers={"Accept": "application/json"})
    assert anonymous.status == 404
    mine = await (await client.get("/organizer/events", headers=organizer)).json()
    assert [e["event_id"] for e in mine["events"]] == [event_id]

    renamed = await client.patch(f"/events/{event_id}", headers=organizer, json={
        "name": "Lantern Festival 2", "price_tiers": [{"category": "A", "price_cents": 9000}]})
    assert renamed.status == 200, await renamed.text()
    assert (await renamed.json())["price_tiers"] == [
        {"code": "A", "name": "Category A", "category": "A", "price_cents": 9000}]

    published = await client.post(f"/events/{event_id}/publish", headers=organizer)
    assert published.status == 200
    assert (await published.json())["status"] == "published"
    browse = await (await client.get(f"/events?city={city}")).json()
    assert [e["name"] for e in browse["events"]] == ["Lantern Festival 2"]
    search = await (await client.get(f"/search?q=lantern%20fest&city={city}")).json()
    assert [r["event_id"] for r in search["results"]] == [event_id]

    locked = await client.patch(f"/events/{event_id}", headers=organizer,
                                json={"buyer_limit": 10})
    assert locked.status == 409
    assert (await locked.json())["error"] == {
        "code": "event_locked", "message": "buyer_limit: fixed once the event is published",
        "details": {"field": "buyer_limit", "reason": "fixed once published"}}
    described = await client.patch(f"/events/{event_id}", headers=organizer,
                                   json={"description": "Now with fireworks."})
    assert (await described.json())["description"] == "Now with fireworks."

    class FakeRequest:
        app = client.app

    await ensure_on_sale(FakeRequest(), event_id)  # type: ignore[arg-type]
    cancelled = await client.post(f"/events/{event_id}/cancel", headers=organizer)
    assert (await cancelled.json())["status"] == "cancelled"
    with pytest.raises(Exception) as refused:
        await ensure_on_sale(FakeRequest(), event_id)  # type: ignore[arg-type]
    assert getattr(refused.value, "code", None) == "event_not_on_sale"
    assert refused.value.details["reason"] == "cancelled"  # type: ignore[attr-defined]
    details = await (await client.get(f"/events/{event_id}",
                                      headers={"Accept": "application/json"})).json()
    assert details["on_sale"] is False and details["sale_status"] == "cancelled"
    seats = await (await client.get(f"/events/{event_id}/seats")).json()
    assert seats["status"] == "cancelled"
    again = await client.patch(f"/events/{event_id}", headers=organizer, json={"name": "X"})
    assert again.status == 409


@pytest.mark.parametrize(("change", "field"), [
    ({"name": ""}, "name"),
    ({"category": "Big Concert"}, "category"),
    ({"starts_at": "tomorrow"}, "starts_at"),
    ({"starts_at": "2030-01-01T19:00:00"}, "starts_at"),
    ({"onsale_at": _when(40)}, "onsale_at"),
    ({"price_tiers": []}, "price_tiers"),
    ({"price_tiers": [{"category": "A", "price_cents": -5}]}, "price_tiers[0].price_cents"),
    ({"price_tiers": [{"category": "A", "price_cents": 1}, {"category": "A",
                                                            "price_cents": 2}]},
     "price_tiers[1].category"),
    ({"price_tiers": [{"category": "Z", "price_cents": 100}]}, "price_tiers"),
    ({"performers": [{"name": "X", "kind": "wizard"}]}, "performers[0].kind"),
    ({"currency": "euro"}, "currency"),
    ({"buyer_limit": 0}, "buyer_limit"),
    ({"colour": "red"}, "colour"),
    ({"venue_id": 999999999}, "venue_id"),
])
async def test_event_validation_names_the_field(client: TestClient[Any, Any], engine: Engine,
                                                change: dict[str, Any], field: str) -> None:
    organizer = await account(client, engine, "organizer")
    venue = await (await create_venue(client, organizer, small_seatmap(unique_city()))).json()
    response = await client.post("/events", json=event_body(venue["venue_id"], change),
                                 headers=organizer)
    assert response.status == 400, await response.text()
    error = (await response.json())["error"]
    assert error["code"] == "invalid_request"
    assert error["details"]["field"] == field, error


async def test_organizers_manage_only_their_own(client: TestClient[Any, Any],
                                                engine: Engine) -> None:
    alice = await account(client, engine, "organizer")
    bob = await account(client, engine, "organizer")
    ops = await account(client, engine, "ops")
    venue = await (await create_venue(client, alice, small_seatmap(unique_city()))).json()
    on_alices_venue = await client.post("/events", json=event_body(venue["venue_id"]),
                                        headers=bob)
    assert on_alices_venue.status == 403
    event = await (await client.post("/events", json=event_body(venue["venue_id"]),
                                     headers=alice)).json()
    event_id = event["event_id"]
    for method, path, body in (("PATCH", f"/events/{event_id}", {"name": "Mine now"}),
                               ("POST", f"/events/{event_id}/publish", None),
                               ("POST", f"/events/{event_id}/cancel", None)):
        response = await client.request(method, path, json=body, headers=bob)
        assert response.status == 404, (method, path)  # someone else's draft
    assert (await client.get(f"/venues/{venue['venue_id']}", headers=bob)).status == 403
    assert (await (await client.get("/venues", headers=bob)).json())["venues"] == []

    assert (await client.post(f"/events/{event_id}/publish", headers=ops)).status == 200
    response = await client.post(f"/events/{event_id}/cancel", headers=bob)
    assert response.status == 403, "published: visible, still not bob's"
    assert (await client.get(f"/events/{event_id}", headers={
        **ops, "Accept": "application/json"})).status == 200


async def test_bodies_are_limited_except_seat_maps(client: TestClient[Any, Any],
                                                   engine: Engine) -> None:
    organizer = await account(client, engine, "organizer")
    venue = await (await create_venue(client, organizer, small_seatmap(unique_city()))).json()
    response = await client.post("/events", headers=organizer, json=event_body(
        venue["venue_id"], {"description": "x" * 4000}))
    assert response.status == 413
    error = (await response.json())["error"]
    assert error["code"] == "payload_too_large"
    assert response.headers["X-Request-Id"]


async def test_shared_venues_take_any_organizers_events(client: TestClient[Any, Any],
                                                        engine: Engine) -> None:
    ops = await account(client, engine, "ops")
    organizer = await account(client, engine, "organizer")
    shared = await (await create_venue(client, ops, small_seatmap(unique_city()))).json()
    assert shared["organizer_id"] is None
    response = await client.post("/events", json=event_body(shared["venue_id"]), headers=ops)
    assert response.status == 400
    assert (await response.json())["error"]["details"]["field"] == "organizer_id"
    mine = await client.post("/events", json=event_body(shared["venue_id"]), headers=organizer)
    assert mine.status == 201
    owner = (await mine.json())["organizer"]["organizer_id"]
    for_them = await client.post(f"/events?organizer_id={owner}",
                                 json=event_body(shared["venue_id"]), headers=ops)
    assert for_them.status == 201
    assert (await for_them.json())["organizer"]["organizer_id"] == owner
