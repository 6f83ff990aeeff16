"""The waiting room against real Redis: places, order, one place per account, bots, tokens."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.support.rooms import START, T0
from waitingroom.config import RoomConfig
from waitingroom.controller import AdmissionController
from waitingroom.errors import ErrorCode, WaitingRoomError
from waitingroom.keyfile import load_or_create_signer
from waitingroom.pow import solve
from waitingroom.queue_tickets import QueueTicket, encode_ticket
from waitingroom.room import WaitingRoom
from waitingroom.status import FanState, QueueStatus
from waitingroom.tokens import AdmissionSigner

pytestmark = pytest.mark.integration



async def configure(room: WaitingRoom, event_id: int, **changes: Any) -> RoomConfig:
    values: dict[str, Any] = {
        "opens_at": T0,
        "sale_starts_at": START,
        "new_users_per_minute": 6000,
        "max_active_users": 10_000,
        "position_expiry_seconds": 3600,
        "join_limit_per_account_per_minute": 1000,
        "join_limit_per_ip_per_minute": 100_000,
    }
    values.update(changes)
    config = RoomConfig.from_mapping(values)
    await room.configure(event_id, config)
    return config


async def statuses(
    room: WaitingRoom, event_id: int, tickets: list[str], now: float
) -> list[QueueStatus]:
    return list(await asyncio.gather(*(room.status(event_id, t, now) for t in tickets)))


async def refusal(call: Any) -> WaitingRoomError:
    with pytest.raises(WaitingRoomError) as caught:
        await call
    return caught.value


async def run_controller(
    controller: AdmissionController, event_id: int, start: float, seconds: float
) -> float:
    now = start
    while now < start + seconds:
        now += 0.2
        await controller.step(event_id, now)
    return now


async def test_fifo_line_is_admitted_in_arrival_order(
    room: WaitingRoom, controller: AdmissionController, event_id: int
) -> None:
    await configure(room, event_id, new_users_per_minute=300)  # one per 0.2 s step
    early = [await room.join(event_id, user, T0 + user) for user in range(20)]
    late = [await room.join(event_id, user, START + 1 + user * 0.01) for user in range(20, 25)]
    tickets = [j.ticket for j in early + late]
    assert [j.status.position for j in early + late] == list(range(1, 26))

    now = START + 1
    admitted_order: list[int] = []
    while len(admitted_order) < 25:
        now += 0.2
        await controller.step(event_id, now)
        for user, status in enumerate(await statuses(room, event_id, tickets, now)):
            if status.state is FanState.ADMITTED and user not in admitted_order:
                admitted_order.append(user)
    assert admitted_order == list(range(25)), "FIFO: admissions follow arrival order"


async def test_shuffled_prequeue_is_a_stable_permutation_and_late_arrivals_queue_behind(
    room: WaitingRoom, controller: AdmissionController, event_id: int
) -> None:
    await configure(room, event_id, mode="shuffle", new_users_per_minute=300)
    early = [await room.join(event_id, user, T0 + 1 + user * 0.1) for user in range(60)]
    assert all(j.status.position is None and j.status.in_prequeue for j in early)
    tickets = [j.ticket for j in early]

    first_read = [s.position for s in await statuses(room, event_id, tickets, START + 0.5)]
    late = [await room.join(event_id, user, START + 1) for user in range(60, 63)]
    second_read = [s.position for s in await statuses(room, event_id, tickets, START + 2)]
    rejoin = await room.join(event_id, 17, START + 3)

    assert sorted(p for p in first_read if p is not None) == list(range(1, 61))
    assert first_read != list(range(1, 61)), "the pre-queue is shuffled at start"
    assert second_read == first_read, "the shuffle is stable across reads"
    assert rejoin.status.position == first_read[17] and not rejoin.created
    assert [j.status.position for j in late] == [61, 62, 63]

    now = START + 3
    for _ in range(10):
        now += 0.2
        await controller.step(event_id, now)
    admitted = {
        s.position
        for s in await statuses(room, event_id, tickets, now)
        if s.state is FanState.ADMITTED
    }
    assert admitted == set(range(1, len(admitted) + 1)), "admission follows the shuffled places"
    assert 10 <= len(admitted) < 60


async def test_one_place_per_account(room: WaitingRoom, event_id: int) -> None:
    await configure(room, event_id)
    first = await room.join(event_id, 7, T0 + 1)
    again = await room.join(event_id, 7, T0 + 2)
    racing = await asyncio.gather(*(room.join(event_id, 8, T0 + 3) for _ in range(10)))
    assert first.created and not again.created
    assert again.ticket == first.ticket and again.status.position == first.status.position
    assert len({j.ticket for j in racing}) == 1 and sum(j.created for j in racing) == 1
    assert (await room.summary(event_id, T0 + 3)).joined == 2


async def test_a_lost_place_is_replaced_at_the_back(room: WaitingRoom, event_id: int) -> None:
    await configure(room, event_id, position_expiry_seconds=30)
    mine = await room.join(event_id, 1, T0 + 1)
    await room.join(event_id, 2, T0 + 2)
    assert await room.leave(event_id, mine.ticket)
    assert (await room.status(event_id, mine.ticket, T0 + 3)).state is FanState.EXPIRED
    back = await room.join(event_id, 1, T0 + 4)
    assert back.created and back.status.position == 3

    walked_away = await room.join(event_id, 3, T0 + 5)
    assert (await room.status(event_id, walked_away.ticket, T0 + 36)).state is FanState.EXPIRED
    assert (await room.join(event_id, 3, T0 + 37)).status.position == 5


async def test_joining_before_opening_or_without_a_room(room: WaitingRoom, event_id: int) -> None:
    assert (await refusal(room.join(event_id, 1, T0))).code is ErrorCode.ROOM_NOT_FOUND
    await configure(room, event_id)
    closed = await refusal(room.join(event_id, 1, T0 - 5))
    assert closed.code is ErrorCode.QUEUE_CLOSED and closed.details == {"opens_at": T0}
    ticket = (await room.join(event_id, 1, T0 + 1)).ticket
    other = await refusal(room.status(event_id + 10_000, ticket, T0 + 2))
    assert other.code is ErrorCode.INVALID_TICKET


async def test_per_account_and_per_ip_join_limits(room: WaitingRoom, event_id: int) -> None:
    await configure(
        room, event_id, join_limit_per_account_per_minute=3, join_limit_per_ip_per_minute=5
    )
    now = (T0 // 60 + 2) * 60  # the start of a one-minute window
    for _ in range(3):
        await room.join(event_id, 1, now, ip="10.0.0.1")
    limited = await refusal(room.join(event_id, 1, now + 15, ip="10.0.0.1"))
    assert limited.code is ErrorCode.RATE_LIMITED and limited.http_status == 429
    assert limited.details == {"scope": "account", "retry_after": 45}

    for user in range(2, 4):  # the IP has made 4 attempts; 5 allowed
        await room.join(event_id, user, now + 16, ip="10.0.0.1")
    by_ip = await refusal(room.join(event_id, 4, now + 17, ip="10.0.0.1"))
    assert by_ip.details["scope"] == "ip" and by_ip.details["retry_after"] == 43
    await room.join(event_id, 4, now + 17, ip="10.0.0.2")
    await room.join(event_id, 1, now + 61, ip="10.0.0.1")  # next window


async def test_proof_of_work_when_ops_turn_it_on(room: WaitingRoom, event_id: int) -> None:
    await configure(room, event_id, pow_difficulty_bits=8)
    required = await refusal(room.join(event_id, 5, T0 + 1))
    assert required.code is ErrorCode.POW_REQUIRED and required.details["difficulty_bits"] == 8
    solution = solve(required.details["challenge"], 8)
    stolen = await refusal(room.join(event_id, 6, T0 + 2, pow_solution=solution))
    assert stolen.code is ErrorCode.POW_INVALID
    joined = await room.join(event_id, 5, T0 + 2, pow_solution=solution)
    assert joined.created
    assert not (await room.join(event_id, 5, T0 + 3)).created, "a held place needs no new proof"


async def admitted_fan(
    room: WaitingRoom, controller: AdmissionController, event_id: int, user: int = 1
) -> tuple[str, QueueStatus]:
    ticket = (await room.join(event_id, user, T0 + 1)).ticket
    await controller.step(event_id, START + 1)
    status = await room.status(event_id, ticket, START + 1.1)
    assert status.state is FanState.ADMITTED and status.admission_token
    return ticket, status


async def test_admission_tokens_are_checked_for_event_expiry_forgery_and_replay(
    room: WaitingRoom,
    controller: AdmissionController,
    event_id: int,
    redis: aioredis.Redis,
    redis_prefix: str,
) -> None:
    config = await configure(room, event_id, admission_token_ttl_seconds=600)
    ticket, status = await admitted_fan(room, controller, event_id)
    token = status.admission_token
    claims = await room.check_admission(event_id, token, START + 2)
    assert (claims.event_id, claims.user_id, claims.position) == (event_id, 1, 1)
    assert (await room.status(event_id, ticket, START + 3)).admission_token == token

    forger = WaitingRoom(redis, redis_prefix, AdmissionSigner(Ed25519PrivateKey.generate()))
    forged = (
        await forger.status(event_id, ticket_for(forger, event_id, 1), START + 2)
    ).admission_token
    reasons = {
        "invalid": (event_id, forged, START + 2),
        "missing": (event_id, None, START + 2),
        "expired": (event_id, token, START + 1 + config.admission_token_ttl_seconds + 1),
        "wrong_event": (event_id + 10_000, token, START + 2),
    }
    for reason, (event, candidate, now) in reasons.items():
        refused = await refusal(room.check_admission(event, candidate, now))
        assert (refused.code, refused.details["reason"]) == (ErrorCode.NOT_ADMITTED, reason)

    assert await room.end_session(event_id, 1)
    replay = await refusal(room.check_admission(event_id, token, START + 5))
    assert replay.details["reason"] == "session_ended", "a token is dead once the purchase is done"
    assert (await room.status(event_id, ticket, START + 5)).state is FanState.EXPIRED


def ticket_for(room: WaitingRoom, event_id: int, seq: int) -> str:
    return encode_ticket(room.signer.mac_key, QueueTicket(event_id, 1, seq))


async def test_leaving_ends_the_admitted_session(
    room: WaitingRoom, controller: AdmissionController, event_id: int
) -> None:
    await configure(room, event_id)
    ticket, status = await admitted_fan(room, controller, event_id)
    assert await room.leave(event_id, ticket)
    refused = await refusal(room.check_admission(event_id, status.admission_token, START + 2))
    assert refused.details["reason"] == "session_ended"


async def test_summary_is_the_same_for_every_fan(
    room: WaitingRoom, controller: AdmissionController, event_id: int
) -> None:
    await configure(room, event_id, new_users_per_minute=60)
    for user in range(5):
        await room.join(event_id, user, T0 + 1)
    await run_controller(controller, event_id, START, 3.0)
    summary = await room.summary(event_id, START + 3)
    assert (summary.serving_position, summary.joined, summary.waiting, summary.active_sessions) == (
        3,
        5,
        2,
        3,
    )
    assert summary.started and summary.to_json()["queue_length"] == 2


def test_signing_key_is_created_once_and_shared(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "admission.pem"
    first = load_or_create_signer(path)
    second = load_or_create_signer(path)
    assert first.kid == second.kid
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["admission.pem"]


async def test_rooms_are_registered_for_controllers_and_can_be_dropped(
    room: WaitingRoom, redis: aioredis.Redis, event_id: int
) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        await room.configure(event_id, RoomConfig(opens_at=T0, sale_starts_at=START), pipeline=pipe)
        assert await room.get_config(event_id) is None, "queued only: the caller executes"
        await pipe.execute()
    assert (await room.get_config(event_id)) == RoomConfig(opens_at=T0, sale_starts_at=START)
    assert event_id in await room.configured_event_ids()
    await room.join(event_id, 1, T0 + 1)
    await room.delete_room(event_id)
    assert event_id not in await room.configured_event_ids()
    assert await redis.exists(*room.keys(event_id).all_fixed()) == 0
