"""The organizer backoffice's use cases without HTTP, on the real Postgres.

Invariants: organizers manage only their own venues and events (someone else's draft
does not exist for them), shared venues take anyone's events; once published, what the
inventory was priced by is fixed; a cancelled event changes no more; every refusal has
a stable code and writes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from engine.store import catalog, organizing, waiting_list
from engine.store.errors import OrganizingCode, OrganizingError
from engine.store.organizing import Actor
from tests.support.catalogs import grid_doc

pytestmark = pytest.mark.integration

OPS = Actor(is_ops=True, organizer_id=None)
NOW = datetime.now(UTC)


def _organizer(engine: Engine, name: str) -> Actor:
    with engine.begin() as conn:
        return Actor(is_ops=False, organizer_id=catalog.create_organizer(conn, name))


def _event_fields(venue_id: int, **changes: Any) -> dict[str, Any]:
    return {"name": "Spring Gala", "category": "concert", "venue_id": venue_id,
            "starts_at": NOW + timedelta(days=30), "onsale_at": NOW + timedelta(days=1),
            "price_tiers": [{"code": "F", "name": "Front", "category": "front",
                             "price_cents": 9000}],
            **changes}


def _refused(code: OrganizingCode, call: Any, *args: Any, **kwargs: Any) -> OrganizingError:
    with pytest.raises(OrganizingError) as refused:
        call(*args, **kwargs)
    assert refused.value.code is code, refused.value
    return refused.value


def _status(engine: Engine, event_id: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(sa.text("SELECT status FROM events WHERE id = :id"),
                                {"id": event_id}).scalar_one())


def test_an_organizer_manages_their_own_venue_and_not_anothers(db_engine: Engine) -> None:
    alice, bob = _organizer(db_engine, "Alice Live"), _organizer(db_engine, "Bob Shows")
    venue = organizing.create_venue(db_engine, grid_doc(), alice.organizer_id)

    assert venue["seats"] == 30 and venue["organizer_id"] == alice.organizer_id
    assert [v["venue_id"] for v in organizing.list_venues(db_engine, alice)] == [
        venue["venue_id"]]
    assert organizing.list_venues(db_engine, bob) == []
    shown = organizing.venue_with_seatmap(db_engine, alice, venue["venue_id"])
    assert shown["seatmap"]["name"] == "Test Hall"
    _refused(OrganizingCode.FORBIDDEN, organizing.venue_with_seatmap, db_engine, bob,
             venue["venue_id"])
    _refused(OrganizingCode.VENUE_NOT_FOUND, organizing.venue_with_seatmap, db_engine, OPS,
             venue["venue_id"] + 1000)


def test_a_bad_seat_map_names_the_element_and_writes_nothing(db_engine: Engine) -> None:
    doc = grid_doc()
    doc["sections"][1]["rows"][0]["seats"][2]["x"] = "far left"

    error = _refused(OrganizingCode.INVALID_REQUEST, organizing.create_venue, db_engine, doc,
                     None)

    assert error.details["field"] == "sections[1].rows[0].seats[2].x"
    assert organizing.list_venues(db_engine, OPS) == []


def test_events_go_from_draft_to_published_to_cancelled(db_engine: Engine) -> None:
    alice = _organizer(db_engine, "Alice Live")
    venue = organizing.create_venue(db_engine, grid_doc(), alice.organizer_id)
    event_id = organizing.create_event(db_engine, alice, _event_fields(venue["venue_id"]),
                                       default_hold_ttl_seconds=600)
    assert _status(db_engine, event_id) == "draft"

    organizing.update_event(db_engine, alice, event_id, {"buyer_limit": 4}, NOW)
    organizing.publish_event(db_engine, alice, event_id, NOW)
    organizing.publish_event(db_engine, alice, event_id, NOW)  # twice is a no-op
    assert _status(db_engine, event_id) == "published"
    locked = _refused(OrganizingCode.EVENT_LOCKED, organizing.update_event, db_engine, alice,
                      event_id, {"buyer_limit": 2}, NOW)
    assert locked.details["field"] == "buyer_limit"
    organizing.update_event(db_engine, alice, event_id, {"name": "Spring Gala II"}, NOW)

    with db_engine.begin() as conn:  # a fan on the sold-out waiting list
        fan = conn.execute(sa.text(
            "INSERT INTO users (email, password_hash, role, display_name)"
            " VALUES ('listed-' || md5(random()::text) || '@example.com', 'x', 'fan', 'Fan')"
            " RETURNING id")).scalar_one()
    waiting_list.join_list(db_engine, event_id, fan, 2, None)

    organizing.cancel_event(db_engine, alice, event_id)
    assert _status(db_engine, event_id) == "cancelled"
    entry = waiting_list.entry_of(db_engine, event_id, fan)
    assert entry is not None and entry.status == "lapsed", "the list ends with the event"
    _refused(OrganizingCode.EVENT_CANCELLED, organizing.update_event, db_engine, alice,
             event_id, {"name": "Again"}, NOW)
    _refused(OrganizingCode.EVENT_CANCELLED, organizing.publish_event, db_engine, alice,
             event_id, NOW)
    listed = organizing.organizer_events(db_engine, alice, limit=10, before=None)
    assert [row["event_id"] for row in listed] == [event_id]


def test_someone_elses_draft_does_not_exist_and_their_published_event_is_forbidden(
        db_engine: Engine) -> None:
    alice, bob = _organizer(db_engine, "Alice Live"), _organizer(db_engine, "Bob Shows")
    venue = organizing.create_venue(db_engine, grid_doc(), alice.organizer_id)
    event_id = organizing.create_event(db_engine, alice, _event_fields(venue["venue_id"]),
                                       default_hold_ttl_seconds=600)

    _refused(OrganizingCode.EVENT_NOT_FOUND, organizing.publish_event, db_engine, bob,
             event_id, NOW)
    organizing.publish_event(db_engine, OPS, event_id, NOW)
    _refused(OrganizingCode.FORBIDDEN, organizing.cancel_event, db_engine, bob, event_id)
    assert _status(db_engine, event_id) == "published"
    _refused(OrganizingCode.FORBIDDEN, organizing.create_event, db_engine, bob,
             _event_fields(venue["venue_id"]), default_hold_ttl_seconds=600)


def test_an_event_on_a_shared_venue_belongs_to_the_organizer_named(db_engine: Engine) -> None:
    alice = _organizer(db_engine, "Alice Live")
    shared = organizing.create_venue(db_engine, grid_doc(), None)

    _refused(OrganizingCode.INVALID_REQUEST, organizing.create_event, db_engine, OPS,
             _event_fields(shared["venue_id"]), default_hold_ttl_seconds=600)
    event_id = organizing.create_event(
        db_engine, Actor(is_ops=True, organizer_id=alice.organizer_id),
        _event_fields(shared["venue_id"]), default_hold_ttl_seconds=600)

    organizing.ensure_manages_event(db_engine, alice, event_id)


def test_an_event_starting_in_the_past_is_not_published(db_engine: Engine) -> None:
    alice = _organizer(db_engine, "Alice Live")
    venue = organizing.create_venue(db_engine, grid_doc(), alice.organizer_id)
    event_id = organizing.create_event(db_engine, alice, _event_fields(venue["venue_id"]),
                                       default_hold_ttl_seconds=600)

    _refused(OrganizingCode.EVENT_IN_PAST, organizing.publish_event, db_engine, alice,
             event_id, NOW + timedelta(days=60))

    assert _status(db_engine, event_id) == "draft"
