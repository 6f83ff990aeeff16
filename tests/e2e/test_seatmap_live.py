"""Live seat maps: served from the cache that the partition consumer's deltas keep current,
with ETag/304, and an SSE stream of deltas (or a snapshot for a client that fell behind)."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis import Redis
from sqlalchemy import Engine, text

import api.fan.seatmap_cache as seatmap_cache
from api.fan.seatmap_cache import SEATMAP_CACHE_KEY
from api.launcher.settings import Settings
from engine.store.db import make_engine
from tests.support.booking import consumers_running, make_event
from tests.support.catalog_http import account
from workers.keys import Keys
from workers.partitions import partition_for

pytestmark = pytest.mark.e2e


@pytest.fixture()
def engine(database_url: str) -> Iterator[Engine]:
    db = make_engine(database_url)
    yield db
    db.dispose()


@pytest.fixture()
def event_id(engine: Engine) -> int:
    return make_event(engine, rows=2, seats_per_row=5, ga_capacity=20)


@pytest.fixture()
def consumer(settings: Settings, engine: Engine, event_id: int,
             redis_client: Redis) -> Iterator[None]:
    with consumers_running(redis_client, Keys(settings.redis_prefix), engine,
                           [partition_for(event_id, settings.partitions, {})], "seatmap-e2e"):
        yield


@pytest.fixture()
def snapshot_loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every Postgres snapshot the cache takes, by event id."""
    loads: list[int] = []
    real = seatmap_cache.load_event_state

    def counted(db: Engine, event: int) -> Any:
        loads.append(event)
        return real(db, event)

    monkeypatch.setattr(seatmap_cache, "load_event_state", counted)
    return loads


async def hold(client: TestClient[Any, Any], headers: dict[str, str], event_id: int,
               body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/events/{event_id}/reservations", json=body, headers=headers)
    assert response.status == 202, await response.text()
    url = (await response.json())["status_url"]
    for _ in range(200):
        state = await (await client.get(url, headers=headers)).json()
        if state["status"] != "pending":
            assert state["status"] == "held", state
            return state
        await asyncio.sleep(0.05)
    raise AssertionError("no decision")


def seat_states(document: dict[str, Any]) -> dict[int, str]:
    at = {name: index for index, name in enumerate(document["seat_fields"])}
    return {row[at["seat_id"]]: row[at["state"]] for row in document["seats"]}


async def test_seat_map_has_states_prices_and_an_etag(client: TestClient[Any, Any],
                                                      event_id: int) -> None:
    response = await client.get(f"/events/{event_id}/seats")
    assert response.status == 200
    document = await response.json()
    assert document["version"] == 0
    at = {name: index for index, name in enumerate(document["seat_fields"])}
    assert len(document["seats"]) == 10
    prices = {row[at["row"]]: row[at["price_cents"]] for row in document["seats"]}
    assert prices == {"A": 9000, "B": 9000}
    assert set(seat_states(document).values()) == {"available"}
    assert document["ga_zones"][0]["available"] == 20
    assert document["ga_zones"][0]["price_cents"] == 4000
    etag = response.headers["ETag"]

    again = await client.get(f"/events/{event_id}/seats", headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.headers["ETag"] == etag

    packed = await client.get(f"/events/{event_id}/seats",
                              headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(await packed.read())) == document


async def test_the_map_follows_the_consumer_not_postgres(
        client: TestClient[Any, Any], engine: Engine, event_id: int, consumer: None,
        snapshot_loads: list[int]) -> None:
    first = await client.get(f"/events/{event_id}/seats")
    etag = first.headers["ETag"]
    fan = await account(client, engine, "fan")
    held = await hold(client, fan, event_id, {"best_available": {"quantity": 2}})
    standing = await hold(client, fan, event_id,
                          {"general_admission": {"zone_id": (await first.json())["ga_zones"][0]
                                                 ["zone_id"], "quantity": 3}})
    assert standing["quantity"] == 3
    for _ in range(100):
        response = await client.get(f"/events/{event_id}/seats", headers={"If-None-Match": etag})
        if response.status == 200:
            document = await response.json()
            states = seat_states(document)
            if document["ga_zones"][0]["available"] == 17:
                break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the seat map never moved")
    assert {seat_id for seat_id, state in states.items() if state == "held"} == \
        set(held["seat_ids"])
    assert document["version"] >= 2
    assert snapshot_loads == [event_id], "one snapshot, then deltas only"

    details = await (await client.get(f"/events/{event_id}",
                                      headers={"Accept": "application/json"})).json()
    sections = {s["name"]: s for s in details["availability"]["sections"]}
    assert sections["Stalls"]["available"] == 8 and sections["Floor"]["available"] == 17


async def read_events(response: Any, count: int, timeout: float = 10.0) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    name = ""
    async with asyncio.timeout(timeout):
        while len(events) < count:
            line = (await response.content.readline()).decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    return events


async def test_the_stream_sends_deltas_and_snapshots(
        client: TestClient[Any, Any], engine: Engine, event_id: int, consumer: None) -> None:
    document = await (await client.get(f"/events/{event_id}/seats")).json()
    stream = await client.get(f"/events/{event_id}/availability/stream",
                              params={"after": str(document["version"])})
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    fan = await account(client, engine, "fan")
    held = await hold(client, fan, event_id, {"best_available": {"quantity": 2}})
    [(name, delta)] = await read_events(stream, 1)
    assert name == "delta"
    assert delta["changes"] == {str(seat): "held" for seat in held["seat_ids"]}
    stream.close()

    replay = await client.get(f"/events/{event_id}/availability/stream", params={"after": "0"})
    [(name, delta)] = await read_events(replay, 1)
    assert name == "delta" and delta["version"] >= 1, "kept deltas are replayed"
    replay.close()

    fresh = await client.get(f"/events/{event_id}/availability/stream")
    [(name, snapshot)] = await read_events(fresh, 1)
    assert name == "snapshot"
    assert {k: v for k, v in snapshot["states"].items() if not k.startswith("zone:")} == \
        {str(seat): "held" for seat in held["seat_ids"]}
    fresh.close()

    ahead = await client.get(f"/events/{event_id}/availability/stream",
                             headers={"Last-Event-ID": "999999"})
    [(name, _)] = await read_events(ahead, 1)
    assert name == "snapshot", "a version we never had: start from a snapshot"
    ahead.close()


async def test_a_map_that_missed_deltas_is_rebuilt(client: TestClient[Any, Any], engine: Engine,
                                                   event_id: int) -> None:
    document = await (await client.get(f"/events/{event_id}/seats")).json()
    seat = document["seats"][0][0]
    with engine.begin() as conn:  # a change whose delta never reached Redis
        conn.execute(text("INSERT INTO seat_claims (event_id, seat_id, state)"
                          " VALUES (:e, :s, 'blocked')"), {"e": event_id, "s": seat})
        conn.execute(text("UPDATE events SET inventory_version = 5 WHERE id = :e"),
                     {"e": event_id})
    cache = client.app[SEATMAP_CACHE_KEY]
    await cache.sweep_once(verify=True)  # behind, but maybe only by a publish in flight
    await cache.sweep_once(verify=True)  # still behind with no progress: rebuild
    rebuilt = await (await client.get(f"/events/{event_id}/seats")).json()
    assert rebuilt["version"] == 5
    assert seat_states(rebuilt)[seat] == "blocked"


async def test_unknown_events_and_bad_versions(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/events/987654321/seats")).status == 404
    assert (await client.get("/events/987654321/availability/stream")).status == 404
    response = await client.get("/events/1/availability/stream", params={"after": "-3"})
    assert response.status in (400, 404)
