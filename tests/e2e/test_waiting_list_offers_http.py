"""A waiting-list offer end to end, through the real partition consumer: a sold-out event,
fans on the list, a hold released, the offer round enqueues OfferSeats for the first fans,
the partition holds the seats for them in list order, the mail is in the outbox, the first
fan buys them, and the next fan has the seats that were left. Runs on single Redis and
Redis Cluster. (Offers that stand until seats come back: test_standing_offers_http.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient
from redis import Redis
from sqlalchemy import text

from api.launcher.settings import Settings
from engine.store import waiting_list
from tests.e2e import test_booking_http as booking_http
from tests.e2e.test_booking_http import fan_holding, pay, signed_in, wait_for
from workers.booking_requests import RequestKind
from workers.enqueue import SyncRequestQueue
from workers.keys import Keys
from workers.partitions import partition_for
from workers.waiting_list import offer_round

redis_url = booking_http.redis_url
database_url = booking_http.database_url
engine = booking_http.engine
event_id = booking_http.event_id
gateway = booking_http.gateway
backend = booking_http.backend


def offer_queue(redis: Redis, settings: Settings) -> Any:
    requests = SyncRequestQueue(redis, Keys(settings.redis_prefix), settings.max_queue_depth)

    def enqueue(event: int, buyer: int, kind: RequestKind, params: dict[str, object],
                idempotency_key: str) -> str:
        return str(requests.enqueue(event_id=event, buyer_id=buyer, kind=kind.value,
                                    params=params,
                                    partition=partition_for(event, settings.partitions, {}),
                                    idempotency_key=idempotency_key).request_id)

    return enqueue


async def settled(engine: Any, event: int, account: int, status: str) -> Any:
    for _ in range(200):
        await asyncio.to_thread(waiting_list.settle, engine, event)
        entry = waiting_list.entry_of(engine, event, account)
        if entry is not None and entry.status == status:
            return entry
        await asyncio.sleep(0.05)
    raise AssertionError(f"entry of {account} never became {status}: {entry}")


async def account_id(client: TestClient[Any, Any], headers: dict[str, str]) -> int:
    return int((await (await client.get("/me", headers=headers)).json())["id"])


async def test_a_released_hold_is_offered_to_the_list_in_order_and_bought(
        client: TestClient[Any, Any], backend: Redis, settings: Settings, event_id: int,
        engine: Any) -> None:
    holders = [await fan_holding(client, event_id, f"sellout{i}@example.com", 4)
               for i in range(3)]  # 12 seats, 4 each: sold out
    assert all(held["status"] == "held" for _, _, held in holders)
    first = await signed_in(client, "list1@example.com")
    second = await signed_in(client, "list2@example.com")
    url = f"/events/{event_id}/waiting-list"
    assert (await client.post(url, json={"quantity": 2}, headers=first)).status == 201
    assert (await client.post(url, json={"quantity": 2}, headers=second)).status == 201
    first_id, second_id = await account_id(client, first), await account_id(client, second)

    holder, _, held = holders[0]
    release = await client.delete(f"/holds/{held['hold_id']}", headers=holder)
    await wait_for(client, (await release.json())["status_url"], holder, {"released"})

    enqueue = offer_queue(backend, settings)
    assert await asyncio.to_thread(offer_round, engine, enqueue) == 2, \
        "an offer out for each of the first fans of the list"
    assert await asyncio.to_thread(offer_round, engine, enqueue) == 0, "safe to run twice"
    offered = await settled(engine, event_id, first_id, "offered")
    mine = await (await client.get(url, headers=first)).json()
    assert mine["status"] == "offered" and mine["hold_id"] == offered.hold_id
    with engine.connect() as conn:
        mail = conn.execute(text("SELECT user_id FROM notifications WHERE kind = 'waitlist_offer'"
                                 " AND order_id = :h"), {"h": offered.hold_id}).scalar_one()
    assert mail == first_id, "the offer is mailed through the outbox"

    order = await pay(client, backend, settings, first, offered.hold_id)
    assert order["status"] == "paid"
    await settled(engine, event_id, first_id, "taken")

    nxt = await settled(engine, event_id, second_id, "offered")  # the seats that were left
    with engine.connect() as conn:
        seats = conn.execute(text("SELECT hold_id, seat_ids FROM holds WHERE hold_id IN (:a, :b)"),
                             {"a": offered.hold_id, "b": nxt.hold_id}).all()
    named = [seat for row in seats for seat in row.seat_ids]
    assert len(named) == 4 and len(set(named)) == 4, "two offers never name one seat"
