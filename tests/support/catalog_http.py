"""Helpers for catalog HTTP tests: accounts of each role, and events in a city of their own.

The e2e database lives for the whole session, so tests put their events in a
city no other test uses and filter by it.
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import Engine, text

from engine.pricing import PriceTier
from engine.store import catalog


def unique_city() -> str:
    """A city no other test uses, its second word letters only: Postgres' text parser reads
    a hex word such as `3e4f1a` as the number `3e4` and the word `f1a`, so a search for the
    whole word would find nothing (the search test failed now and then: ~3 % of tokens)."""
    return "Testcity " + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:10])


def small_seatmap(city: str, *, rows: int = 2, seats_per_row: int = 5, ga_capacity: int = 0,
                  name: str = "Test Hall") -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": name, "city": city, "country": "GB",
        "stage": {"x": 100.0, "y": 10.0, "width": 200.0, "height": 20.0},
        "sections": [{"name": "Stalls", "rank": 1, "rows": [
            {"label": chr(65 + r), "rank": r,
             "seats": [{"label": str(n + 1), "x": 20.0 + 30 * n, "y": 60.0 + 30 * r,
                        "category": "A" if r == 0 else "B"} for n in range(seats_per_row)]}
            for r in range(rows)]}],
        "ga_zones": [],
    }
    if ga_capacity:
        doc["ga_zones"] = [{"name": "Floor", "capacity": ga_capacity, "category": "GA"}]
    return doc


async def account(client: TestClient[Any, Any], engine: Engine, role: str,
                  email: str | None = None) -> dict[str, str]:
    """Bearer headers of a new account with `role` (fans register; others are promoted)."""
    email = email or f"{role}-{uuid.uuid4().hex[:10]}@example.com"
    response = await client.post("/auth/register", json={
        "email": email, "password": "correct horse battery", "display_name": email[:20]})
    assert response.status == 201, await response.text()
    body = await response.json()
    if role != "fan":
        with engine.begin() as conn:
            conn.execute(text("UPDATE users SET role = :role WHERE id = :id"),
                         {"role": role, "id": body["user"]["id"]})
    return {"Authorization": f"Bearer {body['token']}"}


@functools.cache
def _password_hash() -> str:
    from argon2 import PasswordHasher

    return PasswordHasher().hash("correct horse battery")


def quick_account(engine: Engine, role: str) -> dict[str, str]:
    """Bearer headers of a new account, made in the database (no argon2 per account)."""
    from api.fan.identity import open_session

    email = f"{role}-{uuid.uuid4().hex[:10]}@example.com"
    with engine.begin() as conn:
        user_id = conn.execute(text(
            "INSERT INTO users (email, password_hash, role, display_name)"
            " VALUES (:email, :hash, :role, :name) RETURNING id"),
            {"email": email, "hash": _password_hash(), "role": role,
             "name": email[:20]}).scalar_one()
    token, _ = open_session(engine, user_id)
    return {"Authorization": f"Bearer {token}"}


def user_id_of(engine: Engine, headers: dict[str, str]) -> int:
    from api.fan.identity import token_hash

    token = headers["Authorization"].split(" ", 1)[1]
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT user_id FROM sessions WHERE token_hash = :h"),
                                {"h": token_hash(token)}).scalar_one())


def make_listed_event(engine: Engine, *, city: str, name: str = "Test Night",
                      category: str = "concert", performers: tuple[str, ...] = (),
                      prices: tuple[int, int] = (9000, 5000), starts_in_days: int = 30,
                      status: str = "published", ga_capacity: int = 0,
                      organizer_id: int | None = None, onsale_minutes_ago: int = 5) -> int:
    """A venue in `city` and an event on it, written through the store like the demo loader."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        organizer = organizer_id or catalog.create_organizer(conn, "Test Promotions")
        venue = catalog.create_venue(conn, small_seatmap(city, ga_capacity=ga_capacity),
                                     organizer)
        performer_ids = [catalog.create_performer(conn, performer) for performer in performers]
        tiers = [PriceTier("A", "Front", "A", prices[0]), PriceTier("B", "Back", "B", prices[1])]
        if ga_capacity:
            tiers.append(PriceTier("GA", "Floor", "GA", 3000))
        return catalog.create_event(
            conn, organizer_id=organizer, venue_id=venue, name=name, category=category,
            starts_at=now + timedelta(days=starts_in_days),
            onsale_at=now - timedelta(minutes=onsale_minutes_ago), price_tiers=tiers,
            performer_ids=performer_ids, status=status, currency="GBP")
