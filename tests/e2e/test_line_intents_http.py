"""Intent while waiting, over HTTP with a real partition consumer: a fan in line states what
they want (validated, stable 4xx codes); at admission the controller's hook enqueues a
best-available hold for each such fan in line order, the admitted poll names the hold
request, and the fan finds the seats held; a fan without an intent is admitted as before."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis import Redis

from api.http.app import create_app
from api.http.appkeys import REDIS_KEY, SETTINGS_KEY
from api.launcher.settings import Settings
from engine.store.db import make_engine
from loadtests.audit_checks import INTENT_HOLD_ID
from tests.e2e.test_booking_http import wait_for
from tests.e2e.test_line_stock_http import status
from tests.e2e.test_waitingroom_http import fan, join, open_room
from tests.support.booking import consumers_running, make_event
from waitingroom.controller import AdmissionController
from workers.intent_holds import IntentHolds
from workers.keys import Keys
from workers.partitions import partition_for

pytestmark = pytest.mark.e2e


@pytest.fixture()
async def api(
    settings: Settings, tmp_path: Any, aiohttp_client: Any, redis_client: object
) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(settings.replace(data_dir=tmp_path)))


@pytest.fixture()
def event_id(database_url: str) -> Iterator[int]:
    engine = make_engine(database_url)
    yield make_event(engine, rows=3, seats_per_row=4, buyer_limit=6)
    engine.dispose()


@pytest.fixture()
def partition_worker(settings: Settings, database_url: str, event_id: int,
                     redis_client: Redis) -> Iterator[None]:
    engine = make_engine(database_url)
    with consumers_running(redis_client, Keys(settings.redis_prefix), engine,
                           [partition_for(event_id, settings.partitions, {})], "intent-worker"):
        yield
    engine.dispose()


async def state_intent(api: TestClient[Any, Any], event_id: int, ticket: str,
                       body: Any, method: str = "PUT") -> Any:
    return await api.request(method, f"/events/{event_id}/queue/{ticket}/intent", json=body)


async def admit_with_intents(api: TestClient[Any, Any], event_id: int) -> None:
    settings = api.app[SETTINGS_KEY]
    redis = api.app[REDIS_KEY]
    hook = IntentHolds(redis, Keys(settings.redis_prefix), settings.partitions,
                       settings.max_queue_depth)
    controller = AdmissionController(redis, settings.redis_prefix, "intents",
                                     intent_holds=hook)
    await controller.step(event_id, time.time())
    await controller.release(event_id)


async def test_intents_are_validated_with_stable_codes(
    api: TestClient[Any, Any], event_id: int
) -> None:
    await open_room(api, event_id, sale_starts_at=time.time() + 3600)
    ticket = (await (await join(api, event_id, await fan(api, "picky"))).json())["ticket"]
    for body, field in [({"quantity": 0}, "quantity"), ({}, "quantity"),
                        ({"quantity": 2, "split_ok": "yes"}, "split_ok"),
                        ({"quantity": 2, "seats": [1]}, "seats"),
                        ({"quantity": 2, "max_price_cents": -5}, "max_price_cents")]:
        response = await state_intent(api, event_id, ticket, body)
        assert response.status == 400, (body, await response.text())
        error = (await response.json())["error"]
        assert (error["code"], error["details"]["field"]) == ("invalid_intent", field), body
    not_an_object = await state_intent(api, event_id, ticket, [1, 2])
    assert not_an_object.status == 400
    assert (await not_an_object.json())["error"]["code"] == "invalid_request"
    forged = await state_intent(api, event_id, ticket + "x", {"quantity": 1})
    assert forged.status == 404
    assert (await forged.json())["error"]["code"] == "invalid_ticket"

    accepted = await state_intent(api, event_id, ticket, {"quantity": 2, "split_ok": False},
                                  method="POST")
    assert accepted.status == 200, await accepted.text()
    replaced = await state_intent(api, event_id, ticket, {"quantity": 3, "tier": "back"})
    assert (await replaced.json())["intent"]["quantity"] == 3
    read = await (await api.get(f"/events/{event_id}/queue/{ticket}/intent")).json()
    assert read["intent"] == {"quantity": 3, "tier": "back", "hold_request_id": None}


async def test_admission_holds_seats_for_intents_in_line_order(
    api: TestClient[Any, Any], event_id: int, partition_worker: None
) -> None:
    await open_room(api, event_id)
    fans = [await fan(api, f"f{i}") for i in range(4)]
    tickets = [(await (await join(api, event_id, f)).json())["ticket"] for f in fans]
    for ticket, quantity in zip(tickets[:3], (2, 3, 2), strict=True):
        response = await state_intent(api, event_id, ticket, {"quantity": quantity})
        assert response.status == 200, await response.text()

    await admit_with_intents(api, event_id)

    answers = [await status(api, event_id, t) for t in tickets]
    assert all(a["state"] == "admitted" for a in answers), answers
    assert answers[3]["hold_request_id"] is None, "no intent: the fan picks seats as today"
    request_ids = [a["hold_request_id"] for a in answers[:3]]
    assert all(request_ids), answers
    assert all(INTENT_HOLD_ID.match(rid) for rid in request_ids), "the audit must know them"
    held = [await wait_for(api, f"/requests/{rid}", f, {"held", "rejected"})
            for rid, f in zip(request_ids, fans[:3], strict=True)]
    assert [h["status"] for h in held] == ["held"] * 3, held
    assert [len(h["seats"]) for h in held] == [2, 3, 2]

    # Line order: the partition got (and decided) the holds in the fans' order.
    redis = api.app[REDIS_KEY]
    keys = Keys(api.app[SETTINGS_KEY].redis_prefix)
    seqs = [int(await redis.hget(keys.request(rid), "seq")) for rid in request_ids]
    decided = [float(await redis.hget(keys.request(rid), "decided_at")) for rid in request_ids]
    assert seqs == sorted(seqs) and decided == sorted(decided)

    late = await state_intent(api, event_id, tickets[3], {"quantity": 1})
    assert late.status == 409
    assert (await late.json())["error"]["code"] == "not_waiting"
    read = await (await api.get(f"/events/{event_id}/queue/{tickets[0]}/intent")).json()
    assert read["intent"]["hold_request_id"] == request_ids[0]
