"""Presale tiers enforced over HTTP, through the real partition consumer: a fan not let into
the presale is refused its seats by id and by tier and never gets them by best-available,
even when the presale is created after the partition loaded the event (or its lock request
was lost); a code holder gets them; once the public tiers sell out while the presale tier
still has seats, the line answers `sold_out` and the controller admits no one; the line's
figure follows a presale window opening and closing with no booking in between; and an
intent holds presale seats at admission only for a code holder."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis import Redis
from sqlalchemy import text

from api.fan.admission import ADMISSION_HEADER
from api.http.app import create_app
from api.http.appkeys import REDIS_KEY, SETTINGS_KEY
from api.launcher.settings import Settings
from engine.store import presales as store
from engine.store.db import make_engine
from tests.e2e.test_booking_http import wait_for
from tests.e2e.test_waitingroom_http import admit_everyone, join, open_room, room_of
from tests.support.booking import consumers_running, make_event
from tests.support.catalog_http import quick_account
from waitingroom.controller import AdmissionController
from waitingroom.keys import RoomKeys
from workers.consumer import PRESALE_SWEEP_SECONDS
from workers.intent_holds import IntentHolds
from workers.keys import Keys
from workers.partitions import partition_for

pytestmark = pytest.mark.e2e

PRESALE_CACHE_SECONDS = 1.1
"""The API reads an event's presales at most once a second per process."""


@pytest.fixture()
async def api(settings: Settings, tmp_path: Any, aiohttp_client: Any,
              redis_client: object) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(settings.replace(data_dir=tmp_path)))


@pytest.fixture()
def engine(database_url: str) -> Iterator[Any]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture()
def event_id(engine: Any) -> int:
    # Rows A and B are category A (tier `front`, which the presale unlocks), C and D are B.
    return make_event(engine, rows=4, seats_per_row=2, buyer_limit=8)


@pytest.fixture()
def partition_worker(settings: Settings, engine: Any, event_id: int,
                     redis_client: Redis) -> Iterator[None]:
    keys = Keys(settings.redis_prefix)
    with consumers_running(redis_client, keys, engine,
                           [partition_for(event_id, settings.partitions, {})], "tiers-worker"):
        yield


def seats_of(engine: Any, event_id: int, category: str) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT s.id FROM seats s JOIN events e ON e.venue_id = s.venue_id"
            " WHERE e.id = :event_id AND s.category = :category ORDER BY s.id"),
            {"event_id": event_id, "category": category}).scalars())


async def create_presale(api: TestClient[Any, Any], event_id: int, ops: dict[str, str],
                         starts_in: timedelta, lasts: timedelta,
                         ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The presale and what became of its `lock_tiers` request."""
    now = datetime.now(UTC)
    response = await api.post(
        f"/organizer/events/{event_id}/presales",
        json={"name": "Fan club", "starts_at": (now + starts_in).isoformat(),
              "ends_at": (now + starts_in + lasts).isoformat(), "tier_codes": ["front"],
              "quota": 10},
        headers=ops)
    assert response.status == 201, await response.text()
    presale: dict[str, Any] = await response.json()
    assert presale["lock_request_id"], presale
    locked = await wait_for(api, f"/requests/{presale['lock_request_id']}", ops,
                            {"done", "rejected"})
    # `tier_codes` when it locked them; nothing when the partition loaded the event after
    # the presale was stored (the load read it).
    assert locked["status"] == "done" and locked.get("tier_codes", ["front"]) == ["front"]
    await asyncio.sleep(PRESALE_CACHE_SECONDS)
    return presale, locked


async def let_in(api: TestClient[Any, Any], event_id: int, presale_id: int,
                 ops: dict[str, str], fan: dict[str, str]) -> None:
    response = await api.post(f"/organizer/presales/{presale_id}/codes",
                              json={"kind": "single_use", "count": 1}, headers=ops)
    [code] = (await response.json())["codes"]
    response = await api.post(f"/events/{event_id}/presale-access", json={"code": code},
                              headers=fan)
    assert response.status == 200, await response.text()


async def book(api: TestClient[Any, Any], event_id: int, headers: dict[str, str],
               body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    extra = {ADMISSION_HEADER: token} if token else {}
    response = await api.post(f"/events/{event_id}/reservations", json=body,
                              headers={**headers, **extra})
    assert response.status == 202, await response.text()
    return await wait_for(api, (await response.json())["status_url"], headers,
                          {"held", "rejected"})


async def test_an_outsider_never_gets_a_presale_seat_and_a_code_holder_does(
    api: TestClient[Any, Any], engine: Any, event_id: int, partition_worker: None
) -> None:
    ops, outsider, holder = (quick_account(engine, "ops"), quick_account(engine, "fan"),
                             quick_account(engine, "fan"))
    front, back = seats_of(engine, event_id, "A"), seats_of(engine, event_id, "B")
    # The partition loads the event before the presale exists: the lock reaches it in
    # queue order, as a `lock_tiers` request.
    first = await book(api, event_id, outsider, {"seats": [back[0]]})
    assert first["status"] == "held", first
    presale, locked = await create_presale(api, event_id, ops, timedelta(minutes=-5),
                                           timedelta(hours=1))
    assert locked["tier_codes"] == ["front"], "the loaded partition locked the tier in order"

    by_id = await book(api, event_id, outsider, {"seats": [front[0]]})
    assert by_id["status"] == "rejected" and by_id["error"]["code"] == "tier_locked", by_id
    by_tier = await book(api, event_id, outsider, {"best_available": {"quantity": 1,
                                                                      "tier": "front"}})
    assert by_tier["status"] == "rejected" and by_tier["error"]["code"] == "tier_locked"
    # A fan cannot unlock tiers by naming them: the parameter is the server's.
    smuggled = await book(api, event_id, outsider,
                          {"seats": [front[1]], "unlocked_tiers": ["front"]})
    assert smuggled["error"]["code"] == "tier_locked", smuggled
    nested = await api.post(f"/events/{event_id}/reservations", headers=outsider, json={
        "best_available": {"quantity": 1, "unlocked_tiers": ["front"]}})
    assert nested.status == 400
    # Best-available without a tier takes what is public, then nothing more.
    rest = await book(api, event_id, outsider, {"best_available": {"quantity": len(back) - 1}})
    assert rest["status"] == "held" and set(rest["seat_ids"]) <= set(back), rest
    none_left = await book(api, event_id, outsider, {"best_available": {"quantity": 1}})
    assert none_left["status"] == "rejected" and none_left["error"]["code"] == "sold_out"

    await let_in(api, event_id, presale["id"], ops, holder)
    mine = await book(api, event_id, holder, {"seats": [front[0]]})
    assert mine["status"] == "held" and mine["seat_ids"] == [front[0]], mine
    best = await book(api, event_id, holder, {"best_available": {"quantity": 2}})
    assert best["status"] == "held" and set(best["seat_ids"]) <= set(front), best

    # The waiting list is only for tiers the fan can get.
    locked = await api.post(f"/events/{event_id}/waiting-list", headers=outsider,
                            json={"quantity": 1, "tier": "front"})
    assert locked.status == 403 and (await locked.json())["error"]["code"] == "tier_locked"
    joined = await api.post(f"/events/{event_id}/waiting-list", headers=outsider,
                            json={"quantity": 1})
    assert joined.status == 201, await joined.text()  # sold out for this fan: front is not


async def test_a_line_whose_public_tiers_sold_out_stops_while_presale_seats_are_left(
    api: TestClient[Any, Any], engine: Any, event_id: int, partition_worker: None
) -> None:
    ops = quick_account(engine, "ops")
    back = seats_of(engine, event_id, "B")
    # A presale that ended: its tier stays locked, and the line is open to everyone.
    await create_presale(api, event_id, ops, timedelta(hours=-2), timedelta(hours=1))
    await open_room(api, event_id, new_users_per_minute=60)
    first = quick_account(engine, "fan")
    first_ticket = (await (await join(api, event_id, first)).json())["ticket"]
    await admit_everyone(api, event_id)
    behind = [quick_account(engine, "fan") for _ in range(3)]
    tickets = [(await (await join(api, event_id, h)).json())["ticket"] for h in behind]
    waiting = await (await api.get(f"/events/{event_id}/queue/{tickets[0]}")).json()
    assert waiting["tickets_left"] == len(back), "the line counts only the public tier"

    redis = api.app[REDIS_KEY]
    controller = AdmissionController(redis, api.app[SETTINGS_KEY].redis_prefix, "tiers")
    stop = asyncio.Event()
    running = asyncio.create_task(
        controller.run(lambda: [event_id], stop, interval=0.05, clock=time.time))
    try:
        token = (await (await api.get(f"/events/{event_id}/queue/{first_ticket}")).json())[
            "admission_token"]
        held = await book(api, event_id, first, {"best_available": {"quantity": len(back)}},
                          token)
        assert held["status"] == "held" and set(held["seat_ids"]) == set(back), held
        state = room_of(api).keys(event_id).state
        admitted_at_sell_out = int(await redis.hget(state, "admitted_total"))
        answers = [await (await api.get(f"/events/{event_id}/queue/{t}")).json()
                   for t in tickets]
        still_waiting = [a for a in answers if a["state"] != "admitted"]
        assert still_waiting, "someone must still be in line"
        for answer in still_waiting:
            assert answer["state"] == "sold_out" and answer["tickets_left"] == 0, answer
            assert answer["waiting_list"] == "waiting_list_available"
        await asyncio.sleep(1.5)  # time for more than one admission at the room's rate
        assert int(await redis.hget(state, "admitted_total")) == admitted_at_sell_out
    finally:
        stop.set()
        await running
    summary = await (await api.get(f"/events/{event_id}/queue")).json()
    assert summary["state"] == "sold_out" and summary["tickets_left"] == 0
    with engine.connect() as conn:
        claimed = conn.execute(text(
            "SELECT count(*) FROM seat_claims WHERE event_id = :e"), {"e": event_id}).scalar()
    assert claimed == len(back), "the presale tier's seats are all still free"


async def test_a_lost_lock_request_is_made_up_for_by_the_partition(
    api: TestClient[Any, Any], engine: Any, event_id: int, partition_worker: None
) -> None:
    outsider = quick_account(engine, "fan")
    front, back = seats_of(engine, event_id, "A"), seats_of(engine, event_id, "B")
    assert (await book(api, event_id, outsider, {"seats": [back[0]]}))["status"] == "held"
    # A presale stored long enough ago whose `lock_tiers` request never reached the queue.
    now = datetime.now(UTC)
    presale = store.create_presale(engine, event_id, "Lost", now - timedelta(minutes=5),
                                   now + timedelta(hours=1), ["front"], 10)
    with engine.begin() as conn:
        conn.execute(text("UPDATE presales SET created_at = now() - interval '1 minute'"
                          " WHERE id = :id"), {"id": presale.id})
    deadline = time.monotonic() + PRESALE_SWEEP_SECONDS + 5
    # The first ask may still get the seat; asking again for it says `seats_taken` until
    # the lock, `tier_locked` after (a locked seat is refused before it is looked up).
    first = await book(api, event_id, outsider, {"seats": [front[0]]})
    while first["status"] == "held":
        answer = await book(api, event_id, outsider, {"seats": [front[0]]})
        if answer["error"]["code"] == "tier_locked":
            break
        assert answer["error"]["code"] == "seats_taken", answer
        assert time.monotonic() < deadline, "the partition never locked the lost presale"
        await asyncio.sleep(0.5)
    else:
        assert first["error"]["code"] == "tier_locked", first


async def test_the_line_figure_follows_a_presale_window_without_any_booking(
    api: TestClient[Any, Any], engine: Any, event_id: int, partition_worker: None,
    settings: Settings, redis_client: Redis
) -> None:
    ops, fan_account = quick_account(engine, "ops"), quick_account(engine, "fan")
    front, back = seats_of(engine, event_id, "A"), seats_of(engine, event_id, "B")
    assert (await book(api, event_id, fan_account, {"seats": [back[0]]}))["status"] == "held"
    state = RoomKeys(settings.redis_prefix, event_id).state

    def figure() -> int:
        return int(redis_client.hget(state, "tickets_left") or -1)

    await create_presale(api, event_id, ops, timedelta(seconds=2), timedelta(seconds=3))
    assert figure() == len(back) - 1, "before the window: the public tier only"
    await asyncio.sleep(2.0 + 1.5)  # the window opened; no batch since
    assert figure() == len(front) + len(back) - 1, "open: its code holders are the line"
    await asyncio.sleep(3.0)  # and closed
    assert figure() == len(back) - 1


async def test_an_intent_holds_presale_seats_only_for_a_code_holder(
    api: TestClient[Any, Any], engine: Any, event_id: int, partition_worker: None
) -> None:
    ops, holder, outsider = (quick_account(engine, "ops"), quick_account(engine, "fan"),
                             quick_account(engine, "fan"))
    front = seats_of(engine, event_id, "A")
    # A short presale: the holder redeems and queues during it, the outsider after it.
    window = timedelta(seconds=4)
    presale, _ = await create_presale(api, event_id, ops, timedelta(seconds=-1), window)
    await open_room(api, event_id)
    await let_in(api, event_id, presale["id"], ops, holder)
    holder_ticket = (await (await join(api, event_id, holder)).json())["ticket"]
    intent = {"quantity": 1, "tier": "front"}
    stated = await api.put(f"/events/{event_id}/queue/{holder_ticket}/intent", json=intent)
    assert stated.status == 200, await stated.text()
    assert (await stated.json())["intent"] == {**intent, "hold_request_id": None}, \
        "the server's unlocked tiers are not shown back"
    ends_at = datetime.fromisoformat(presale["ends_at"]).timestamp()
    await asyncio.sleep(max(0.0, ends_at - time.time()) + PRESALE_CACHE_SECONDS)
    joined = await join(api, event_id, outsider)
    assert joined.status == 201, await joined.text()
    outsider_ticket = (await joined.json())["ticket"]
    assert (await api.put(f"/events/{event_id}/queue/{outsider_ticket}/intent",
                          json=intent)).status == 200

    settings = api.app[SETTINGS_KEY]
    redis = api.app[REDIS_KEY]
    hook = IntentHolds(redis, Keys(settings.redis_prefix), settings.partitions,
                       settings.max_queue_depth)
    controller = AdmissionController(redis, settings.redis_prefix, "intents",
                                     intent_holds=hook)
    await controller.step(event_id, time.time())
    await controller.release(event_id)
    decided = []
    for ticket, headers in ((holder_ticket, holder), (outsider_ticket, outsider)):
        answer = await (await api.get(f"/events/{event_id}/queue/{ticket}")).json()
        assert answer["hold_request_id"], answer
        decided.append(await wait_for(api, f"/requests/{answer['hold_request_id']}", headers,
                                      {"held", "rejected"}))
    mine, theirs = decided
    assert mine["status"] == "held" and set(mine["seat_ids"]) <= set(front), mine
    assert theirs["status"] == "rejected" and theirs["error"]["code"] == "tier_locked", theirs
