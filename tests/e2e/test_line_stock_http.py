"""A line that knows the stock, over HTTP with a real partition consumer: the poll and the
summary show tickets left against people ahead and warn when the fans ahead are expected to
take them all; a sell-out tells everyone in line at once (the next poll says `sold_out` and
offers the waiting list) and stops admission within a poll, even with the controller running."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis import Redis

from api.fan.admission import ADMISSION_HEADER
from api.http.app import create_app
from api.http.appkeys import REDIS_KEY, SETTINGS_KEY
from api.launcher.settings import Settings
from engine.store.db import make_engine
from tests.e2e.test_booking_http import wait_for
from tests.e2e.test_waitingroom_http import admit_everyone, fan, join, open_room, room_of
from tests.support.booking import consumers_running, make_event
from waitingroom.controller import AdmissionController
from workers.keys import Keys
from workers.partitions import partition_for

pytestmark = pytest.mark.e2e



@pytest.fixture()
async def api(
    settings: Settings, tmp_path: Any, aiohttp_client: Any, redis_client: object
) -> TestClient[Any, Any]:
    """The app with its admission key in the test's own directory (`redis_client` for its
    teardown)."""
    return await aiohttp_client(create_app(settings.replace(data_dir=tmp_path)))


@pytest.fixture()
def event_id(database_url: str) -> Iterator[int]:
    engine = make_engine(database_url)
    yield make_event(engine, rows=2, seats_per_row=3, buyer_limit=6)
    engine.dispose()


@pytest.fixture()
def partition_worker(settings: Settings, database_url: str, event_id: int,
                     redis_client: Redis) -> Iterator[None]:
    engine = make_engine(database_url)
    keys = Keys(settings.redis_prefix)
    with consumers_running(redis_client, keys, engine,
                           [partition_for(event_id, settings.partitions, {})], "line-worker"):
        yield
    engine.dispose()


async def status(api: TestClient[Any, Any], event_id: int, ticket: str) -> dict[str, Any]:
    response = await api.get(f"/events/{event_id}/queue/{ticket}")
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def hold(api: TestClient[Any, Any], event_id: int, headers: dict[str, str],
               ticket: str, quantity: int) -> dict[str, Any]:
    token = (await status(api, event_id, ticket))["admission_token"]
    assert token, "the fan must be admitted first"
    response = await api.post(
        f"/events/{event_id}/reservations",
        json={"best_available": {"quantity": quantity}},
        headers={**headers, ADMISSION_HEADER: token},
    )
    assert response.status == 202, await response.text()
    return await wait_for(api, (await response.json())["status_url"], headers,
                          {"held", "rejected"})


async def test_the_poll_shows_stock_against_people_ahead_and_warns_of_a_sell_out(
    api: TestClient[Any, Any], event_id: int, partition_worker: None
) -> None:
    await open_room(api, event_id)
    first = await fan(api, "first")
    first_ticket = (await (await join(api, event_id, first)).json())["ticket"]
    await admit_everyone(api, event_id)
    behind = [await fan(api, f"behind{i}") for i in range(3)]
    tickets = [(await (await join(api, event_id, h)).json())["ticket"] for h in behind]

    held = await hold(api, event_id, first, first_ticket, 2)
    assert held["status"] == "held", held

    # 6 seats, 2 held: 4 left. One admitted fan took 2 tickets, so each fan is expected to
    # take 2; the fan with nobody ahead is fine, the one with 2 fans ahead is warned.
    answers = [await status(api, event_id, t) for t in tickets]
    assert [a["people_ahead"] for a in answers] == [0, 1, 2]
    assert all(a["tickets_left"] == 4 for a in answers), answers
    assert [a["stock"] for a in answers] == ["available", "available", "likely_sold_out"]
    assert answers[2]["tickets_wanted_ahead"] == 4.0
    summary = await (await api.get(f"/events/{event_id}/queue")).json()
    assert (summary["state"], summary["tickets_left"]) == ("open", 4)
    assert summary["tickets_per_admitted_fan"] == 2.0


async def test_a_sell_out_stops_admission_within_a_poll_and_offers_the_waiting_list(
    api: TestClient[Any, Any], event_id: int, partition_worker: None
) -> None:
    await open_room(api, event_id, new_users_per_minute=60)
    first = await fan(api, "first")
    first_ticket = (await (await join(api, event_id, first)).json())["ticket"]
    await admit_everyone(api, event_id)
    behind = [await fan(api, f"behind{i}") for i in range(4)]
    tickets = [(await (await join(api, event_id, h)).json())["ticket"] for h in behind]

    # The controller keeps running (one admission a second) while the first fan takes
    # every seat: the race the sell-out must win.
    redis = api.app[REDIS_KEY]
    controller = AdmissionController(redis, api.app[SETTINGS_KEY].redis_prefix, "race")
    stop = asyncio.Event()
    running = asyncio.create_task(
        controller.run(lambda: [event_id], stop, interval=0.05, clock=time.time))
    try:
        held = await hold(api, event_id, first, first_ticket, 6)
        assert held["status"] == "held", held
        state = room_of(api).keys(event_id).state
        admitted_at_sell_out = int(await redis.hget(state, "admitted_total"))
        # Within one poll, everyone still waiting hears it.
        answers = [await status(api, event_id, t) for t in tickets]
        waiting = [a for a in answers if a["state"] != "admitted"]
        assert waiting, "someone must still be in line"
        for answer in waiting:
            assert answer["state"] == "sold_out", answer
            assert answer["waiting_list"] == "waiting_list_available"
            assert answer["tickets_left"] == 0 and answer["admission_token"] is None
            assert answer["estimated_wait_seconds"] is None
        await asyncio.sleep(1.5)  # time for more than one admission at the room's rate
        assert int(await redis.hget(state, "admitted_total")) == admitted_at_sell_out
        for ticket, before in zip(tickets, answers, strict=True):
            assert (await status(api, event_id, ticket))["state"] == before["state"]
    finally:
        stop.set()
        await running
    summary = await (await api.get(f"/events/{event_id}/queue")).json()
    assert summary["state"] == "sold_out" and summary["tickets_left"] == 0
    assert summary["waiting_list"] == "waiting_list_available"
