"""The demo catalog loads once, looks real, and has an event on sale right now."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, text

from engine.store.demo import load_demo_catalog
from engine.store.demo_data import CORE_EVENTS
from engine.store.repository import InventoryRepository

pytestmark = pytest.mark.integration


def test_demo_catalog_loads_once_with_a_surge_event_on_sale(database_url: str,
                                                             db_engine: Engine) -> None:
    summary = load_demo_catalog(database_url, extra_events=300)
    assert len(summary["events"]) == len(CORE_EVENTS)
    assert summary["extra_events"] == 300
    assert {e["category"] for e in summary["events"]} >= {"concert", "theatre", "sports",
                                                          "comedy"}

    again = load_demo_catalog(database_url, extra_events=300)
    assert again == summary, "loading twice must not insert twice"
    more = load_demo_catalog(database_url, extra_events=500)
    assert more["extra_events"] == 500 and more["surge_event_id"] == summary["surge_event_id"]

    with db_engine.connect() as conn:
        onsale_at, status = conn.execute(text(
            "SELECT onsale_at, status FROM events WHERE id = :id"),
            {"id": summary["surge_event_id"]}).one()
        assert status == "published" and onsale_at <= datetime.now(UTC)
        ops = summary["users"][0]
        stored_hash = conn.execute(text("SELECT password_hash FROM users WHERE email = :e"),
                                   {"e": ops["email"]}).scalar_one()
        assert PasswordHasher().verify(stored_hash, ops["password"])
        assert conn.execute(text("SELECT count(*) FROM events")).scalar() == 12 + 500
        assert conn.execute(text(
            "SELECT count(*) FROM events e WHERE NOT EXISTS"
            " (SELECT 1 FROM price_tiers t WHERE t.event_id = e.id)")).scalar() == 0

    setup, state = InventoryRepository(db_engine).load(summary["surge_event_id"])
    assert 20_000 <= len(setup.venue.seats) <= 21_000
    assert {tier.category for tier in setup.price_tiers} == {"A", "B", "C", "D"}
    assert state.version == 0
