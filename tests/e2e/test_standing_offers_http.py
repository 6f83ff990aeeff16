"""Standing waiting-list offers end to end, through the real partition consumer: the offer
round sends offers while the event is sold out, the partition keeps them standing, and the
seats that come back (a release, an expiry) go to the list in the command that frees them,
before a booking queued right behind can take them; a fan who leaves is never served.
Runs on single Redis and Redis Cluster."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis import Redis
from sqlalchemy import text

from api.launcher.settings import Settings
from engine.store import waiting_list
from tests.e2e import test_booking_http as booking_http
from tests.e2e.test_booking_http import fan_holding, pay, signed_in, wait_for
from tests.e2e.test_waiting_list_offers_http import account_id, offer_queue, settled
from tests.support.booking import make_event
from tests.support.catalog_http import account
from workers.keys import Keys
from workers.waiting_list import offer_round

redis_url = booking_http.redis_url
database_url = booking_http.database_url
engine = booking_http.engine
gateway = booking_http.gateway
backend = booking_http.backend


@pytest.fixture()
def event_id(engine: Any, request: pytest.FixtureRequest) -> int:
    """12 seats, 4 per buyer; the hold TTL is the test's parameter (default 10 minutes)."""
    return make_event(engine, rows=2, seats_per_row=6, buyer_limit=4,
                      hold_ttl_seconds=getattr(request, "param", 600))


def _log(engine: Any, event: int) -> list[tuple[str, dict[str, Any]]]:
    with engine.connect() as conn:
        return [(row.type, row.payload) for row in conn.execute(text(
            "SELECT type, payload FROM inventory_events WHERE event_id = :e ORDER BY seq"),
            {"e": event})]


def _right_after(log: list[tuple[str, dict[str, Any]]], kind: str, hold_id: str) -> list[str]:
    """The types (and offer ids) of the log rows right after the `kind` row of `hold_id`."""
    at = next(i for i, (t, p) in enumerate(log) if t == kind and p["hold_id"] == hold_id)
    return [f"{t}:{p.get('request_id', '')}" for t, p in log[at + 1:]]


async def _list_fans(client: TestClient[Any, Any], event: int, tag: str, count: int,
                     quantity: int) -> list[tuple[dict[str, str], int]]:
    fans = []
    for i in range(count):
        fan = await signed_in(client, f"list{i}-{tag}@example.com")
        joined = await client.post(f"/events/{event}/waiting-list", json={"quantity": quantity},
                                   headers=fan)
        assert joined.status == 201, await joined.text()
        fans.append((fan, await account_id(client, fan)))
    return fans


async def _sold_out(client: TestClient[Any, Any], event: int, tag: str) -> list[Any]:
    holders = [await fan_holding(client, event, f"so{i}-{tag}@example.com", 4)
               for i in range(3)]  # 12 seats, 4 each
    assert all(held["status"] == "held" for _, _, held in holders)
    return holders


async def test_released_seats_go_to_the_standing_offers_before_a_hold_queued_behind(
        client: TestClient[Any, Any], backend: Redis, settings: Settings, event_id: int,
        engine: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    holders = await _sold_out(client, event_id, tag)
    (first, first_id), (second, second_id) = await _list_fans(client, event_id, tag, 2, 2)
    enqueue = offer_queue(backend, settings)
    assert await asyncio.to_thread(offer_round, engine, enqueue) == 2, \
        "offers go out while nothing is free"
    await settled(engine, event_id, first_id, "standing")
    await settled(engine, event_id, second_id, "standing")

    holder, _, held = holders[0]
    competitor = await signed_in(client, f"competitor-{tag}@example.com")
    release = await client.delete(f"/holds/{held['hold_id']}", headers=holder)
    assert release.status == 202
    grab = await client.post(f"/events/{event_id}/reservations", headers=competitor,
                             json={"seats": held["seat_ids"][:2]})
    assert grab.status == 202  # queued right behind the release
    grabbed = await wait_for(client, (await grab.json())["status_url"], competitor,
                             {"held", "rejected"})
    assert grabbed["status"] == "rejected" and grabbed["error"]["code"] == "seats_taken", \
        "the seats that came back were the list's before the next request was decided"

    offered = [await settled(engine, event_id, fan_id, "offered") for fan_id in
               (first_id, second_id)]
    with engine.connect() as conn:
        seats = [list(conn.execute(text("SELECT seat_ids FROM holds WHERE hold_id = :h"),
                                   {"h": entry.hold_id}).scalar_one()) for entry in offered]
    assert sorted(seats[0] + seats[1]) == sorted(held["seat_ids"]), \
        "the four seats back, two for each of the first two fans, none twice"
    after = _right_after(_log(engine, event_id), "HoldReleased", held["hold_id"])
    assert after[:2] == [f"SeatsOffered:{offered[0].hold_id}",
                         f"SeatsOffered:{offered[1].hold_id}"], \
        "served in the release's own command, in list order"

    mine = await (await client.get(f"/requests/{offered[0].hold_id}", headers=first)).json()
    assert mine["status"] == "held" and mine["offer"] is True, \
        "the offer request's record says held once the standing offer is served"
    # As if the consumer died between the commit and the record's update: Postgres decides.
    backend.hset(Keys(settings.redis_prefix).request(offered[0].hold_id),
                 mapping={"status": "done", "result": '{"standing": true}'})
    mine = await (await client.get(f"/requests/{offered[0].hold_id}", headers=first)).json()
    assert mine["status"] == "held" and mine["hold_status"] == "active"
    order = await pay(client, backend, settings, first, offered[0].hold_id)
    assert order["status"] == "paid"


@pytest.mark.parametrize("event_id", [4], indirect=True)
async def test_an_expired_hold_goes_to_the_standing_offer_in_the_expiry(
        client: TestClient[Any, Any], backend: Redis, settings: Settings, event_id: int,
        engine: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    ops = await account(client, engine, "ops")
    with engine.connect() as conn:
        seat_ids = [int(s) for (s,) in conn.execute(text(
            "SELECT s.id FROM seats s JOIN events e ON e.venue_id = s.venue_id"
            " WHERE e.id = :e ORDER BY s.id"), {"e": event_id})]
    block = await client.post(f"/organizer/events/{event_id}/holdbacks", headers=ops,
                              json={"seat_ids": seat_ids[:8]})
    assert block.status == 202
    await wait_for(client, (await block.json())["status_url"], ops, {"done"})
    holder, _, held = await fan_holding(client, event_id, f"expiring-{tag}@example.com", 4)
    assert held["status"] == "held"
    [(_, fan_id)] = await _list_fans(client, event_id, tag, 1, 4)
    await asyncio.to_thread(offer_round, engine, offer_queue(backend, settings))
    await settled(engine, event_id, fan_id, "standing")
    assert time.time() < held["expires_at"], "the offer stood before the hold expired"

    for _ in range(300):  # the hold expires within a second of its TTL
        await asyncio.to_thread(waiting_list.settle, engine, event_id)
        entry = waiting_list.entry_of(engine, event_id, fan_id)
        if entry is not None and entry.status == "offered":
            break
        await asyncio.sleep(0.05)
    assert entry is not None and entry.status == "offered", entry
    after = _right_after(_log(engine, event_id), "HoldExpired", held["hold_id"])
    assert after[:1] == [f"SeatsOffered:{entry.hold_id}"], \
        "the expired hold's seats were offered in the expiry itself"


async def test_a_fan_who_leaves_the_list_is_never_served(
        client: TestClient[Any, Any], backend: Redis, settings: Settings, event_id: int,
        engine: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    holders = await _sold_out(client, event_id, tag)
    (first, first_id), (_, second_id) = await _list_fans(client, event_id, tag, 2, 2)
    enqueue = offer_queue(backend, settings)
    await asyncio.to_thread(offer_round, engine, enqueue)
    standing = await settled(engine, event_id, first_id, "standing")
    await settled(engine, event_id, second_id, "standing")
    with engine.connect() as conn:
        offer_id = conn.execute(text("SELECT request_id FROM waiting_list_entries"
                                     " WHERE id = :id"), {"id": standing.id}).scalar_one()

    left = await client.delete(f"/events/{event_id}/waiting-list", headers=first)
    assert (await left.json())["left"] is True
    for _ in range(200):  # the withdrawal is decided by the partition
        with engine.connect() as conn:
            kept = conn.execute(text("SELECT 1 FROM standing_offers WHERE offer_id = :o"),
                                {"o": offer_id}).first()
        if kept is None:
            break
        await asyncio.sleep(0.05)
    assert kept is None, "the standing offer was withdrawn on the partition"

    holder, _, held = holders[0]
    release = await client.delete(f"/holds/{held['hold_id']}", headers=holder)
    await wait_for(client, (await release.json())["status_url"], holder, {"released"})
    offered = await settled(engine, event_id, second_id, "offered")
    log = _log(engine, event_id)
    assert ("StandingOfferWithdrawn", offer_id) in [(t, p.get("request_id")) for t, p in log]
    assert offer_id not in {p.get("request_id") for t, p in log if t == "SeatsOffered"}, \
        "never served after leaving"
    assert _right_after(log, "HoldReleased", held["hold_id"])[:1] == [
        f"SeatsOffered:{offered.hold_id}"]
    assert waiting_list.entry_of(engine, event_id, first_id).status == "left"  # type: ignore[union-attr]
