"""Status polls of one event that arrive together share one script call (`waitingroom.polls`),
against real Redis: each fan still gets exactly the answer of a poll on its own, keeps its
place with its own time, and failures reach every waiting poll instead of hanging one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from tests.support.rooms import SIGNER, START, T0
from tests.support.servers import unreachable_servers
from waitingroom.config import RoomConfig
from waitingroom.controller import AdmissionController
from waitingroom.errors import ErrorCode, WaitingRoomError
from waitingroom.polls import MAX_POLLS_PER_SCRIPT
from waitingroom.queue_tickets import QueueTicket, decode_ticket, encode_ticket
from waitingroom.room import WaitingRoom
from waitingroom.status import FanState, QueueStatus
from waitingroom.wire import time_text

pytestmark = pytest.mark.integration


async def line_of(room: WaitingRoom, event_id: int, fans: int, **changes: Any) -> list[str]:
    values: dict[str, Any] = {
        "opens_at": T0,
        "sale_starts_at": START,
        "new_users_per_minute": 300,
        "max_active_users": 10_000,
        "position_expiry_seconds": 3600,
        "join_limit_per_account_per_minute": 1000,
        "join_limit_per_ip_per_minute": 100_000,
    } | changes
    await room.configure(event_id, RoomConfig.from_mapping(values))
    return [(await room.join(event_id, user, T0 + 1 + user * 0.01)).ticket for user in range(fans)]


async def together(
    room: WaitingRoom, event_id: int, tickets: list[str], now: float
) -> list[QueueStatus]:
    return list(await asyncio.gather(*(room.status(event_id, t, now) for t in tickets)))


async def test_polls_arriving_together_share_a_call_and_get_their_own_answers(
    room: WaitingRoom, redis: aioredis.Redis, redis_prefix: str, event_id: int,
    controller: AdmissionController,
) -> None:
    tickets = await line_of(room, event_id, 40, mode="shuffle")
    for step in range(1, 6):  # ten places served at one per 0.2 s
        await controller.step(event_id, START + step * 0.2)
    now = START + 1.5
    alone = WaitingRoom(redis, redis_prefix, SIGNER)
    one_by_one = [await alone.status(event_id, ticket, now) for ticket in tickets]
    calls_before = room.polls.script_calls
    batched = await together(room, event_id, tickets, now)

    assert batched == one_by_one, "a shared call answers each fan as a poll of its own"
    assert room.polls.script_calls - calls_before <= 2, "40 polls at once: one or two calls"
    states = {status.state for status in batched}
    assert states == {FanState.ADMITTED, FanState.WAITING}
    assert all(s.admission_token for s in batched if s.state is FanState.ADMITTED)


async def test_each_poll_keeps_the_place_with_its_own_time(
    room: WaitingRoom, redis: aioredis.Redis, event_id: int
) -> None:
    tickets = await line_of(room, event_id, 5, position_expiry_seconds=30)
    times = [T0 + 10 + i for i in range(5)]
    await asyncio.gather(
        *(room.status(event_id, t, now) for t, now in zip(tickets, times, strict=True))
    )
    seen = room.keys(event_id).seen
    for ticket, now in zip(tickets, times, strict=True):
        seq = decode_ticket(SIGNER.mac_key, ticket, event_id).seq
        assert (await redis.hget(seen, str(seq))).decode() == time_text(now)

    late = await together(room, event_id, tickets, T0 + 10 + 31)
    assert [s.state for s in late] == [FanState.EXPIRED] + [FanState.WAITING] * 4, (
        "only the fan who polled more than the position expiry ago lost the place"
    )


async def test_more_polls_than_one_call_takes_are_all_answered(
    room: WaitingRoom, event_id: int
) -> None:
    tickets = await line_of(room, event_id, 3)
    many = tickets * (MAX_POLLS_PER_SCRIPT + 10)
    answers = await together(room, event_id, many, START + 1)
    assert [a.position for a in answers] == [1, 2, 3] * (MAX_POLLS_PER_SCRIPT + 10)


async def test_a_poll_whose_client_went_away_does_not_disturb_the_others(
    room: WaitingRoom, event_id: int
) -> None:
    tickets = await line_of(room, event_id, 6)
    polls = [asyncio.create_task(room.status(event_id, t, START + 1)) for t in tickets]
    await asyncio.sleep(0)
    polls[2].cancel()
    done = await asyncio.gather(*polls, return_exceptions=True)
    assert isinstance(done[2], asyncio.CancelledError)
    assert [s.position for s in done if isinstance(s, QueueStatus)] == [1, 2, 4, 5, 6]
    again = await room.status(event_id, tickets[2], START + 2)
    assert again.position == 3, "the room keeps serving the event's polls"


async def test_a_deleted_room_answers_every_waiting_poll(
    room: WaitingRoom, event_id: int
) -> None:
    tickets = await line_of(room, event_id, 4)
    await room.delete_room(event_id)
    refusals = await asyncio.gather(
        *(room.status(event_id, t, START + 1) for t in tickets), return_exceptions=True
    )
    assert all(
        isinstance(r, WaitingRoomError) and r.code is ErrorCode.ROOM_NOT_FOUND for r in refusals
    ), refusals


async def test_polls_are_answered_after_redis_lost_the_script(
    room: WaitingRoom, event_id: int
) -> None:
    tickets = await line_of(room, event_id, 2)
    room._scripts.queue_status.sha = "0" * 40  # as after a restart or SCRIPT FLUSH
    assert [s.position for s in await together(room, event_id, tickets, START + 1)] == [1, 2]


async def test_when_redis_is_down_every_waiting_poll_gets_the_error() -> None:
    client = aioredis.Redis.from_url(unreachable_servers()["redis_url"])
    room = WaitingRoom(client, "onsaletest-down", SIGNER)
    tickets = [encode_ticket(SIGNER.mac_key, QueueTicket(1, user, user)) for user in (1, 2, 3)]
    for _ in range(2):  # and the next polls are tried again, not stuck behind a dead call
        errors = await asyncio.gather(
            *(room.status(1, t, START) for t in tickets), return_exceptions=True
        )
        assert all(isinstance(e, redis.exceptions.ConnectionError) for e in errors), errors
    await room.close()
    await client.aclose()
