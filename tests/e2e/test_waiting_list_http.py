"""The sold-out waiting list over HTTP: refused while seats are free, a place at the back once
sold out (one per account), the entry with its place, and leaving."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient

from engine.store.db import make_engine
from tests.support.booking import make_event
from tests.support.catalog_http import quick_account

pytestmark = pytest.mark.e2e


async def test_join_the_list_only_when_sold_out(client: TestClient[Any, Any],
                                               database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        event_id = make_event(engine, rows=1, seats_per_row=2)
        alice, bob = quick_account(engine, "fan"), quick_account(engine, "fan")
        url = f"/events/{event_id}/waiting-list"

        early = await client.post(url, json={"quantity": 1}, headers=alice)
        assert early.status == 409
        assert (await early.json())["error"]["code"] == "not_sold_out"

        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO seat_claims (event_id, seat_id, state)"
                " SELECT :e, s.id, 'blocked' FROM seats s JOIN events e ON e.venue_id = s.venue_id"
                " WHERE e.id = :e"), {"e": event_id})

        joined = await client.post(url, json={"quantity": 2}, headers=alice)
        assert joined.status == 201, await joined.text()
        assert (await joined.json())["place"] == 1
        again = await client.post(url, json={"quantity": 2}, headers=alice)
        assert again.status == 200, "one entry per account"
        second = await (await client.post(url, json={"quantity": 1}, headers=bob)).json()
        assert second["place"] == 2 and second["status"] == "waiting"

        bad = await client.post(url, json={"quantity": 99}, headers=bob)
        assert bad.status == 400
        assert (await client.post(url, json={"quantity": 1})).status == 401

        left = await (await client.delete(url, headers=alice)).json()
        assert left["left"] is True
        mine = await (await client.get(url, headers=bob)).json()
        assert mine["place"] == 1, "the list closes up behind a fan who left"
        missing = await client.get(f"/events/{event_id}/waiting-list",
                                   headers=quick_account(engine, "fan"))
        assert missing.status == 404
    finally:
        engine.dispose()
