"""The catalog's pure pieces: search terms and highlights, the live seat map, the sale window."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest

from api.fan.catalog import availability_json, highlight
from api.fan.sale_status import SaleWindow
from api.fan.seatmap_cache import SUBSCRIBER_BACKLOG, LiveSeatMap, Subscriber
from engine.store.listings import prefix_tsquery, search_terms
from engine.store.seatmaps import (
    EventSeatState,
    SeatPlace,
    SectionPlace,
    TierPrice,
    VenueLayout,
    ZonePlace,
)


def test_search_terms_keep_letters_and_digits_only() -> None:
    assert search_terms("  Aurora SKIES; DROP--'x' ") == ["aurora", "skies", "drop", "x"]
    assert search_terms("Björk 2025 café") == ["björk", "2025", "café"]
    assert search_terms("'\";--") == []
    assert prefix_tsquery(["aur", "ac/dc", "-182"]) == "'aur':* & 'ac/dc':* & '-182':*"
    for unsafe in ("a'b", "a b", "a\\b", "x.com:80", "a%s"):
        with pytest.raises(ValueError):
            prefix_tsquery([unsafe])


def test_highlight_marks_word_starts_and_escapes() -> None:
    assert highlight("Aurora Skies", ["aur"]) == "<mark>Aur</mark>ora Skies"
    assert highlight("Laura", ["aur"]) is None, "inside a word is not a prefix"
    assert highlight("<Rock> & Roll", ["rock", "ro"]) == \
        "&lt;<mark>Rock</mark>&gt; &amp; <mark>Ro</mark>ll"
    assert highlight("Anything", []) is None


def test_availability_summary() -> None:
    assert availability_json(0, 100) == {"tickets_left": 0, "status": "sold_out"}
    assert availability_json(-3, 100)["tickets_left"] == 0
    assert availability_json(40, 10_000)["status"] == "limited"
    assert availability_json(5_000, 10_000)["status"] == "available"


def _seat_map(claims: dict[int, str] | None = None, version: int = 3) -> LiveSeatMap:
    layout = VenueLayout(
        venue_id=1, name="Hall", city="Town", country="GB", stage=None,
        sections=(SectionPlace(10, "Stalls", 1),),
        seats=tuple(SeatPlace(seat_id, 10, "A", str(seat_id), 10.0 * seat_id, 5.0,
                              "A" if seat_id < 3 else "B", False) for seat_id in range(1, 5)),
        zones=(ZonePlace(7, "Floor", 100, "GA"),))
    state = EventSeatState(
        event_id=42, venue_id=1, organizer_id=1, name="Gig", status="published",
        currency="GBP", version=version,
        tiers=(TierPrice("A", "Front", "A", 9000), TierPrice("G", "Floor", "GA", 3000)),
        claims=dict(claims or {}), zones_available={7: 100})
    return LiveSeatMap(layout, state, "0-0")


def test_deltas_apply_in_version_order_only() -> None:
    seat_map = _seat_map({1: "sold"})
    assert not seat_map.apply(3, {"2": "held"}), "already included in the snapshot"
    assert seat_map.apply(5, {"2": "held", "1": "available", "zone:7": "96"})
    assert seat_map.claims == {2: "held"} and seat_map.zones_available == {7: 96}
    assert seat_map.deltas_after(3) == [(5, {"2": "held", "1": "available", "zone:7": "96"})]
    assert seat_map.deltas_after(5) == []
    assert seat_map.deltas_after(1) is None, "older than what is kept: snapshot"
    assert seat_map.deltas_after(9) is None
    assert seat_map.states() == {"2": "held", "zone:7": "96"}


def test_render_is_json_with_state_and_price_per_seat() -> None:
    seat_map = _seat_map({4: "blocked"})
    document = json.loads(seat_map.render())
    at = {name: index for index, name in enumerate(document["seat_fields"])}
    rows = {row[at["seat_id"]]: row for row in document["seats"]}
    assert rows[1][at["price_cents"]] == 9000
    assert rows[3][at["price_cents"]] is None, "no tier for category B"
    assert rows[4][at["state"]] == "blocked" and rows[2][at["state"]] == "available"
    assert document["ga_zones"][0]["available"] == 100
    first = seat_map.render()
    assert seat_map.render() is first, "rendered once per version"
    seat_map.apply(4, {"1": "held", "4": "available"})
    updated = json.loads(seat_map.render())
    assert updated["version"] == 4
    states = {row[at["seat_id"]]: row[at["state"]] for row in updated["seats"]}
    assert states == {1: "held", 2: "available", 3: "available", 4: "available"}
    seat_map.apply(5, {"4": "blocked"})
    sections = seat_map.section_availability()
    assert sections[0]["available"] == 1, "seats 2 free and priced; 1 held, 3 unpriced, 4 blocked"
    assert json.loads(gzip.decompress(seat_map.render_gzip()))["version"] == 5
    assert sections[1] == {"zone_id": 7, "name": "Floor", "kind": "general_admission",
                           "seats": 100, "available": 100, "min_price_cents": 3000,
                           "max_price_cents": 3000}


def test_a_subscriber_that_falls_behind_gets_a_snapshot() -> None:
    async def scenario() -> None:
        seat_map = _seat_map(version=0)
        subscriber = Subscriber()
        seat_map.subscribers.add(subscriber)
        for version in range(1, SUBSCRIBER_BACKLOG + 2):
            seat_map.apply(version, {"1": "held" if version % 2 else "available"})
        assert subscriber.behind and subscriber.wake.is_set()

    asyncio.run(scenario())


def test_the_sale_window() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    window = SaleWindow("published", now - timedelta(hours=1), now + timedelta(days=1))
    assert window.refusal(now) is None
    assert window.refusal(now - timedelta(hours=2))[0] == "not_started"  # type: ignore[index]
    assert window.refusal(now + timedelta(days=2))[0] == "started"  # type: ignore[index]
    cancelled = SaleWindow("cancelled", window.onsale_at, window.starts_at)
    assert cancelled.refusal(now)[0] == "cancelled"  # type: ignore[index]
    assert SaleWindow("draft", window.onsale_at, window.starts_at).refusal(now)[0] == \
        "not_published"  # type: ignore[index]
