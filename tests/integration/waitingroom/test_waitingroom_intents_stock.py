"""Intents and stock in the room's scripts, on one Redis and on a real Redis Cluster (every
script single-slot): intents are taken only while waiting, the admitting script names the
hold request of each fan with an intent, in line order, and the status poll carries it; a
published sell-out stops admission at the next step."""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from tests.integration.waitingroom.test_waitingroom_controller import (
    START,
    configure,
    join_many,
)
from waitingroom.controller import AdmissionController
from waitingroom.errors import WaitingRoomError
from waitingroom.intents import AdmittedIntent
from waitingroom.room import WaitingRoom
from waitingroom.status import FanState


class RecordingHolds:
    """A fake of the intent-hold port: ids get a suffix, admissions are recorded."""

    def __init__(self) -> None:
        self.enqueued: list[AdmittedIntent] = []

    async def hold_request_ids(self, event_id: int, bases: Sequence[str]) -> list[str]:
        return [f"{base}s" for base in bases]

    async def enqueue(self, event_id: int, admitted: list[AdmittedIntent]) -> None:
        self.enqueued.extend(admitted)


async def test_intents_become_named_holds_in_line_order(
    room: WaitingRoom, redis: aioredis.Redis, redis_prefix: str, event_id: int
) -> None:
    await configure(room, event_id)
    tickets = await join_many(room, event_id, range(1, 6), START - 10)
    for ticket, quantity in zip(tickets[:4], (1, 2, 3, 4), strict=True):
        if quantity != 2:  # the second fan states none
            await room.set_intent(event_id, ticket, {"quantity": quantity}, START - 5)
    holds = RecordingHolds()
    controller = AdmissionController(redis, redis_prefix, "intents", intent_holds=holds)
    await controller.step(event_id, START + 1)

    assert [fan.seq for fan in holds.enqueued] == [1, 3, 4], "line order, only fans with one"
    assert [fan.intent.hold_params["quantity"] for fan in holds.enqueued] == [1, 3, 4]
    assert all(fan.hold_request_id.endswith(f"q{fan.seq}_s") for fan in holds.enqueued)
    first = await room.status(event_id, tickets[0], START + 1.1)
    assert first.state is FanState.ADMITTED
    assert first.hold_request_id == holds.enqueued[0].hold_request_id
    assert (await room.status(event_id, tickets[1], START + 1.1)).hold_request_id is None
    try:
        await room.set_intent(event_id, tickets[0], {"quantity": 1}, START + 1.2)
    except WaitingRoomError as refused:
        assert refused.code.value == "not_waiting"
    else:
        raise AssertionError("an admitted fan's intent must be refused")


async def test_a_published_sell_out_stops_admission_at_the_next_step(
    room: WaitingRoom, redis: aioredis.Redis, redis_prefix: str, event_id: int
) -> None:
    await configure(room, event_id, new_users_per_minute=60)
    tickets = await join_many(room, event_id, range(1, 4), START - 10)
    await redis.hset(room.keys(event_id).state, "tickets_left", 0)  # as the partition writes it
    controller = AdmissionController(redis, redis_prefix, "stock")
    result = await controller.step(event_id, START + 5)
    assert (result.admitted, result.limited_by) == (0, "sold_out")
    status = await room.status(event_id, tickets[0], START + 5.1)
    assert status.state is FanState.SOLD_OUT and status.waiting_list == "waiting_list_available"
    summary = (await room.summary(event_id, START + 5.2)).to_json()
    assert (summary["state"], summary["tickets_left"]) == ("sold_out", 0)

    await redis.hset(room.keys(event_id).state, "tickets_left", 10)  # holds expired
    assert (await controller.step(event_id, START + 7)).admitted >= 1


async def test_an_intent_leaves_with_its_fan(
    room: WaitingRoom, redis: aioredis.Redis, redis_prefix: str, event_id: int
) -> None:
    """A fan who leaves the line, or whose place lapses and is passed over, takes the
    intent along: no hold is ever made for them and the intents hash keeps no trace."""
    await configure(room, event_id, position_expiry_seconds=20)
    tickets = await join_many(room, event_id, range(1, 5), START - 10)
    for ticket in tickets:
        await room.set_intent(event_id, ticket, {"quantity": 1}, START - 9)
    intents_key = room.keys(event_id).intents
    assert await redis.hlen(intents_key) == 4

    assert await room.leave(event_id, tickets[1])  # the second fan leaves
    assert not await redis.hexists(intents_key, "2")
    for ticket in (tickets[0], tickets[3]):  # the third fan stops polling: the place lapses
        await room.status(event_id, ticket, START + 5)

    holds = RecordingHolds()
    controller = AdmissionController(redis, redis_prefix, "intents-gone", intent_holds=holds)
    await controller.step(event_id, START + 20)

    assert [fan.seq for fan in holds.enqueued] == [1, 4]
    stored = {key.decode() for key in await redis.hkeys(intents_key)}
    assert {"2", "3", "r:2", "r:3"}.isdisjoint(stored), stored
    assert await room.leave(event_id, tickets[0])  # an admitted fan ending the session
    assert not {"1", "r:1"} & {key.decode() for key in await redis.hkeys(intents_key)}
