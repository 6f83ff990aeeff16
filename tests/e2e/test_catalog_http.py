"""Browse, search and details over HTTP, against the listing read model and the seat-map cache."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import Engine, text

from engine.store.db import make_engine
from tests.support.catalog_http import make_listed_event, unique_city

pytestmark = pytest.mark.e2e


@pytest.fixture()
def engine(database_url: str) -> Iterator[Engine]:
    db = make_engine(database_url)
    yield db
    db.dispose()


async def _ids(client: TestClient[Any, Any], query: str) -> list[int]:
    response = await client.get(f"/events?{query}")
    assert response.status == 200, await response.text()
    return [event["event_id"] for event in (await response.json())["events"]]


async def test_browse_filters_sorts_and_pages(client: TestClient[Any, Any],
                                              engine: Engine) -> None:
    city = unique_city()
    soon = make_listed_event(engine, city=city, name="Soon Gig", starts_in_days=3,
                             prices=(4000, 2000), performers=("Glass Harbour",))
    later = make_listed_event(engine, city=city, name="Later Match", category="sports",
                              starts_in_days=40, prices=(15000, 9000))
    middle = make_listed_event(engine, city=city, name="Middle Show", starts_in_days=20,
                               prices=(7000, 6000))
    make_listed_event(engine, city=city, name="Draft", status="draft")
    make_listed_event(engine, city=unique_city(), name="Elsewhere")

    assert await _ids(client, f"city={city}") == [soon, middle, later], "soonest first"
    assert await _ids(client, f"city={city.upper()}") == [soon, middle, later], "any case"
    assert await _ids(client, f"city={city}&sort=-starts_at") == [later, middle, soon]
    assert await _ids(client, f"city={city}&sort=price") == [soon, middle, later]
    assert await _ids(client, f"city={city}&sort=-price") == [later, middle, soon]
    assert await _ids(client, f"city={city}&category=sports") == [later]
    assert await _ids(client, f"city={city}&performer=glass%20harbour") == [soon]
    assert await _ids(client, f"city={city}&performer=Nobody%20At%20All") == []
    assert await _ids(client, f"city={city}&min_price_cents=10000") == [later]
    assert await _ids(client, f"city={city}&max_price_cents=2500") == [soon]
    assert await _ids(client, f"city={city}&available=true") == [soon, middle, later]
    assert await _ids(client, f"city={city}&available=false") == []
    page = await (await client.get(f"/events?city={city}&from=2000-01-01")).json()
    assert len(page["events"]) == 3
    page = await (await client.get(f"/events?city={city}&from=2000-01-01&to=2000-01-02")).json()
    assert page["events"] == []

    first = await (await client.get(f"/events?city={city}&limit=2&sort=price")).json()
    assert [e["event_id"] for e in first["events"]] == [soon, middle]
    assert first["next_cursor"]
    second = await (await client.get(
        f"/events?city={city}&limit=2&sort=price&cursor={first['next_cursor']}")).json()
    assert [e["event_id"] for e in second["events"]] == [later]
    assert second["next_cursor"] is None

    listing = first["events"][0]
    assert listing["venue"]["city"] == city
    assert listing["performers"] == [{"performer_id": listing["performers"][0]["performer_id"],
                                      "name": "Glass Harbour"}]
    assert listing["price_range"] == {"currency": "GBP", "min_cents": 2000, "max_cents": 4000}
    assert listing["availability"] == {"tickets_left": 10, "status": "limited"}


async def test_availability_follows_claims(client: TestClient[Any, Any], engine: Engine) -> None:
    city = unique_city()
    event_id = make_listed_event(engine, city=city)
    with engine.begin() as conn:
        seats = conn.execute(text(
            "SELECT s.id FROM seats s JOIN events e ON e.venue_id = s.venue_id"
            " WHERE e.id = :id"), {"id": event_id}).scalars().all()
        conn.execute(text("INSERT INTO seat_claims (event_id, seat_id, state)"
                          " SELECT :id, unnest(CAST(:seats AS bigint[])), 'blocked'"),
                     {"id": event_id, "seats": list(seats)})
    assert await _ids(client, f"city={city}&available=false") == [event_id]
    assert await _ids(client, f"city={city}&available=true") == []
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM seat_claims WHERE event_id = :id AND seat_id = :seat"),
                     {"id": event_id, "seat": seats[0]})
    assert await _ids(client, f"city={city}&available=true") == [event_id]


@pytest.mark.parametrize(("query", "field"), [
    ("sort=cheapest", "sort"),
    ("limit=0", "limit"),
    ("limit=abc", "limit"),
    ("from=yesterday", "from"),
    ("from=2030-01-01T10:00:00", "from"),
    ("from=2030-02-01&to=2030-01-01", "to"),
    ("min_price_cents=-1", "min_price_cents"),
    ("min_price_cents=500&max_price_cents=100", "max_price_cents"),
    ("available=maybe", "available"),
    ("category=Rock%20Music", "category"),
    ("cursor=%%%", "cursor"),
    ("performer=x&performer_id=3", "performer"),
])
async def test_browse_validation_names_the_field(client: TestClient[Any, Any], query: str,
                                                 field: str) -> None:
    response = await client.get(f"/events?{query}")
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_request"
    assert error["details"]["field"] == field, error
    assert error["details"]["reason"]


async def test_a_cursor_of_another_sort_is_refused(client: TestClient[Any, Any],
                                                   engine: Engine) -> None:
    city = unique_city()
    for _ in range(2):
        make_listed_event(engine, city=city)
    first = await (await client.get(f"/events?city={city}&limit=1")).json()
    response = await client.get(f"/events?city={city}&sort=price&cursor={first['next_cursor']}")
    assert response.status == 400
    assert (await response.json())["error"]["details"]["field"] == "cursor"


async def test_search_matches_prefixes_ranks_and_highlights(client: TestClient[Any, Any],
                                                            engine: Engine) -> None:
    city = unique_city()
    token = city.split()[1]
    by_name = make_listed_event(engine, city=city, name="Zephyrine Quartet: Live",
                                performers=("Zephyrine Quartet",))
    by_city_only = make_listed_event(engine, city=city, name="Another Night",
                                     performers=("Other Band",))
    response = await client.get(f"/search?q=zephyr&city={city}")
    assert response.status == 200
    body = await response.json()
    assert [r["event_id"] for r in body["results"]] == [by_name]
    result = body["results"][0]
    assert result["highlights"]["name"] == "<mark>Zephyr</mark>ine Quartet: Live"
    assert result["highlights"]["performers"] == ["<mark>Zephyr</mark>ine Quartet"]

    typed = await (await client.get(f"/search?q=zephyrine%20qua&city={city}")).json()
    assert [r["event_id"] for r in typed["results"]] == [by_name], "every word is a prefix"

    both = await (await client.get(f"/search?q={token}%20zeph")).json()
    assert [r["event_id"] for r in both["results"]] == [by_name]
    city_hits = await (await client.get(f"/search?q={token}")).json()
    assert {r["event_id"] for r in city_hits["results"]} == {by_name, by_city_only}
    assert city_hits["results"][0]["highlights"]["city"].endswith(f"<mark>{token}</mark>")

    nothing = await (await client.get("/search?q=%22%27%3B--")).json()
    assert nothing["results"] == [] and nothing["terms"] == []


async def test_search_ranks_name_matches_above_venue_matches(client: TestClient[Any, Any],
                                                             engine: Engine) -> None:
    city = unique_city()
    word = f"Q{city.split()[1]}"
    venue_match = make_listed_event(engine, city=city, name="Some Gig", starts_in_days=2)
    with engine.begin() as conn:
        conn.execute(text("UPDATE venues SET name = :name WHERE id = (SELECT venue_id FROM"
                          " events WHERE id = :id)"), {"name": f"{word} Hall", "id": venue_match})
    name_match = make_listed_event(engine, city=city, name=f"{word} Live", starts_in_days=9)
    body = await (await client.get(f"/search?q={word.lower()}")).json()
    assert [r["event_id"] for r in body["results"]] == [name_match, venue_match]
    assert body["results"][0]["rank"] > body["results"][1]["rank"]


async def test_search_escapes_highlights_and_validates(client: TestClient[Any, Any],
                                                       engine: Engine) -> None:
    city = unique_city()
    make_listed_event(engine, city=city, name="<b>Bold</b> & Brave")
    body = await (await client.get(f"/search?q=bold&city={city}")).json()
    assert body["results"][0]["highlights"]["name"] == \
        "&lt;b&gt;<mark>Bold</mark>&lt;/b&gt; &amp; Brave"
    missing = await client.get("/search")
    assert (await missing.json())["error"]["details"]["field"] == "q"
    long = await client.get("/search?q=" + "a" * 500)
    assert (await long.json())["error"]["details"]["field"] == "q"


async def test_details_have_venue_performers_tiers_and_sections(
        client: TestClient[Any, Any], engine: Engine) -> None:
    city = unique_city()
    event_id = make_listed_event(engine, city=city, performers=("Head Liner", "Support Act"),
                                 ga_capacity=50)
    response = await client.get(f"/events/{event_id}", headers={"Accept": "application/json"})
    assert response.status == 200
    details = await response.json()
    assert details["venue"]["city"] == city
    assert [p["name"] for p in details["performers"]] == ["Head Liner", "Support Act"]
    assert {t["category"]: t["price_cents"] for t in details["price_tiers"]} == \
        {"A": 9000, "B": 5000, "GA": 3000}
    assert details["on_sale"] is True and details["sale_status"] == "on_sale"
    sections = {s["name"]: s for s in details["availability"]["sections"]}
    assert sections["Stalls"]["seats"] == 10 and sections["Stalls"]["available"] == 10
    assert sections["Stalls"]["min_price_cents"] == 5000
    assert sections["Floor"]["kind"] == "general_admission"
    assert sections["Floor"]["available"] == 50
    assert details["links"]["seats"] == f"/events/{event_id}/seats"


async def test_details_of_drafts_and_missing_events_are_404(client: TestClient[Any, Any],
                                                            engine: Engine) -> None:
    draft = make_listed_event(engine, city=unique_city(), status="draft")
    for path in (f"/events/{draft}", "/events/999999999", "/events/abc", f"/events/{draft}/seats"):
        response = await client.get(path, headers={"Accept": "application/json"})
        assert response.status == 404, path
        assert (await response.json())["error"]["code"] in ("event_not_found", "not_found")


async def test_a_browser_gets_the_event_page(client: TestClient[Any, Any],
                                             engine: Engine) -> None:
    event_id = make_listed_event(engine, city=unique_city())
    response = await client.get(f"/events/{event_id}",
                                headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")


async def test_request_ids_on_answers_and_errors(client: TestClient[Any, Any]) -> None:
    ok = await client.get("/events?limit=1", headers={"X-Request-Id": "trace-123"})
    assert ok.headers["X-Request-Id"] == "trace-123"
    bad = await client.get("/events?limit=0")
    assert len(bad.headers["X-Request-Id"]) == 32
