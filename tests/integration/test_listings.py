"""The `event_listings` read model follows every writer (triggers), and browse/search read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from engine.pricing import PriceTier
from engine.store import catalog, listings
from tests.support.catalogs import START, grid_doc, make_event

pytestmark = pytest.mark.integration

EVERYTHING = listings.BrowseFilter(starts_after=datetime(2000, 1, 1, tzinfo=UTC))


def listing(engine: Engine, event_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM event_listings WHERE event_id = :id"),
                           {"id": event_id}).first()
    assert row is not None, "every event has a listing"
    return dict(row._mapping)


def test_a_new_event_is_listed_with_venue_performers_and_prices(db_engine: Engine) -> None:
    _, event_id = make_event(db_engine, grid_doc(ga_capacity=30))
    with db_engine.begin() as conn:
        performer = catalog.create_performer(conn, "Velvet Arcade")
        conn.execute(text("INSERT INTO event_performers (event_id, performer_id)"
                          " VALUES (:e, :p)"), {"e": event_id, "p": performer})
    row = listing(db_engine, event_id)
    assert row["city"] == "Testville" and row["city_key"] == "testville"
    assert row["performer_names"] == ["Velvet Arcade"]
    assert (row["min_price_cents"], row["max_price_cents"]) == (3000, 9000)
    assert row["capacity"] == 30 + 30 and row["seats_claimed"] == 0 and not row["sold_out"]


def test_counters_follow_claims_and_general_admission(db_engine: Engine) -> None:
    _, event_id = make_event(db_engine, grid_doc(sections=1, rows=1, seats_per_row=2,
                                                 ga_capacity=3))
    with db_engine.begin() as conn:
        seats = conn.execute(text("SELECT id FROM seats ORDER BY id")).scalars().all()
        conn.execute(text("INSERT INTO seat_claims (event_id, seat_id, state)"
                          " SELECT :e, unnest(CAST(:s AS bigint[])), 'blocked'"),
                     {"e": event_id, "s": list(seats)})
    assert listing(db_engine, event_id)["seats_claimed"] == 2
    with db_engine.begin() as conn:
        conn.execute(text("UPDATE ga_inventory SET held = 1, sold = 2 WHERE event_id = :e"),
                     {"e": event_id})
    row = listing(db_engine, event_id)
    assert row["ga_taken"] == 3 and row["sold_out"], "nothing left: sold out"
    with db_engine.begin() as conn:
        conn.execute(text("UPDATE ga_inventory SET held = 0 WHERE event_id = :e"),
                     {"e": event_id})
        conn.execute(text("DELETE FROM seat_claims WHERE event_id = :e AND seat_id = :s"),
                     {"e": event_id, "s": seats[0]})
    row = listing(db_engine, event_id)
    assert (row["seats_claimed"], row["ga_taken"], row["sold_out"]) == (1, 2, False)


def test_edits_refresh_but_version_bumps_do_not(db_engine: Engine) -> None:
    venue_id, event_id = make_event(db_engine)
    before = listing(db_engine, event_id)
    with db_engine.begin() as conn:
        conn.execute(text("UPDATE events SET inventory_version = inventory_version + 3"
                          " WHERE id = :e"), {"e": event_id})
    assert listing(db_engine, event_id)["updated_at"] == before["updated_at"]
    with db_engine.begin() as conn:
        conn.execute(text("UPDATE events SET name = 'Renamed Night', status = 'cancelled'"
                          " WHERE id = :e"), {"e": event_id})
        conn.execute(text("UPDATE venues SET city = 'Newtown' WHERE id = :v"), {"v": venue_id})
        conn.execute(text("UPDATE price_tiers SET price_cents = 100 WHERE event_id = :e"
                          " AND code = 'S'"), {"e": event_id})
    row = listing(db_engine, event_id)
    assert (row["name"], row["status"], row["city"]) == ("Renamed Night", "cancelled", "Newtown")
    assert row["min_price_cents"] == 100
    with db_engine.connect() as conn:
        found = listings.search(conn, "renam newt",
                                listings.BrowseFilter(EVERYTHING.starts_after,
                                                      statuses=("cancelled",)))
    assert [r["event_id"] for r in found] == [event_id]


def test_browse_pages_by_keyset_without_gaps_or_repeats(db_engine: Engine) -> None:
    with db_engine.begin() as conn:
        organizer = catalog.create_organizer(conn, "Pager")
        venue = catalog.create_venue(conn, grid_doc())
        for day in range(25):
            catalog.create_event(
                conn, organizer_id=organizer, venue_id=venue, name=f"Night {day}",
                category="concert", starts_at=START + timedelta(days=day % 5),
                onsale_at=START - timedelta(days=1), status="published",
                price_tiers=[PriceTier("F", "Front", "front", 1000 + 100 * (day % 7))])
    for sort in listings.SORTS:
        seen: list[int] = []
        after = None
        with db_engine.connect() as conn:
            while True:
                page = listings.browse(conn, EVERYTHING, sort=sort, limit=4, after=after)
                seen.extend(row["event_id"] for row in page.rows)
                if page.next_key is None:
                    break
                after = page.next_key
        assert len(seen) == 25 and len(set(seen)) == 25, sort


def test_search_prefix_and_weights(db_engine: Engine) -> None:
    with db_engine.begin() as conn:
        organizer = catalog.create_organizer(conn, "Search")
        doc = grid_doc(name="Skyline Hall")
        venue = catalog.create_venue(conn, doc)
        tiers = [PriceTier("F", "Front", "front", 1000)]
        in_name = catalog.create_event(conn, organizer_id=organizer, venue_id=venue,
                                       name="Skyfall Live", category="concert",
                                       starts_at=START + timedelta(days=3),
                                       onsale_at=START, price_tiers=tiers, status="published")
        in_venue = catalog.create_event(conn, organizer_id=organizer, venue_id=venue,
                                        name="Other Show", category="concert",
                                        starts_at=START, onsale_at=START, price_tiers=tiers,
                                        status="published")
    with db_engine.connect() as conn:
        both = listings.search(conn, "sky", EVERYTHING)
        assert [r["event_id"] for r in both] == [in_name, in_venue], "name beats venue"
        assert [r["event_id"] for r in listings.search(conn, "skyf", EVERYTHING)] == [in_name]
        assert listings.search(conn, "nothing", EVERYTHING) == []


@pytest.mark.parametrize(("name", "queries"), [
    ("AC/DC: Power Up", ["AC/DC", "ac/d", "ac dc", "power ac"]),
    ("blink-182 Live", ["blink-182", "blink 182", "blink-1"]),
    ("Club 2.0 Night", ["club 2.0", "2.0", "club 2"]),
    ("3e4f Collective", ["3e4f", "3e4f collective"]),
])
def test_search_finds_names_with_punctuation_and_numbers(db_engine: Engine, name: str,
                                                         queries: list[str]) -> None:
    """The query is cut by the parser that built the document (`AC/DC` is one lexeme to
    it, `3e4f` two), and the document also has the words without punctuation."""
    with db_engine.begin() as conn:
        organizer = catalog.create_organizer(conn, "Punctuation")
        venue = catalog.create_venue(conn, grid_doc(name="Plain Hall"))
        event_id = catalog.create_event(
            conn, organizer_id=organizer, venue_id=venue, name=name, category="concert",
            starts_at=START, onsale_at=START, status="published",
            price_tiers=[PriceTier("F", "Front", "front", 1000)])
    with db_engine.connect() as conn:
        for query in queries:
            found = [r["event_id"] for r in listings.search(conn, query, EVERYTHING)]
            assert event_id in found, query


def test_odd_queries_are_answered_not_failed(db_engine: Engine) -> None:
    """Lexemes that cannot be written into the SQL text (quotes, `:` and `%` of bind syntax,
    backslashes) are left out of the query instead of breaking it."""
    with db_engine.connect() as conn:
        for query in ["http://x.com:80/a", "O'Brien", "a%s %(x)s", "\\\\", "x:*", "'; --",
                      "AT&T", "c++ 100%"]:
            assert isinstance(listings.search(conn, query, EVERYTHING), list), query
