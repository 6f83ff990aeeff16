"""The admission controller on real Redis, simulated time: rate, cap, pause, walk-aways, lease."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.support.rooms import START, T0
from waitingroom.config import RoomConfig
from waitingroom.controller import AdmissionController, StepResult
from waitingroom.keys import RoomKeys
from waitingroom.room import WaitingRoom
from waitingroom.status import FanState

pytestmark = pytest.mark.integration



async def configure(room: WaitingRoom, event_id: int, **changes: Any) -> RoomConfig:
    current = await room.get_config(event_id)
    if current is None:
        base: dict[str, Any] = {
            "opens_at": T0,
            "sale_starts_at": START,
            "new_users_per_minute": 600,
            "max_active_users": 100_000,
            "admission_token_ttl_seconds": 3600,
            "position_expiry_seconds": 3600,
            "join_limit_per_account_per_minute": 1000,
            "join_limit_per_ip_per_minute": 100_000,
        }
        config = RoomConfig.from_mapping(base | changes)
    else:
        config = RoomConfig.from_mapping(changes, base=current)
    await room.configure(event_id, config)
    return config


async def join_many(room: WaitingRoom, event_id: int, users: range, now: float) -> list[str]:
    """One after another, so join order (and so the line) follows `users`."""
    return [(await room.join(event_id, user, now)).ticket for user in users]


async def steps(
    controller: AdmissionController, event_id: int, start: float, seconds: float, dt: float = 0.2
) -> list[StepResult]:
    results = []
    for i in range(1, round(seconds / dt) + 1):
        results.append(await controller.step(event_id, start + i * dt))
    return results


async def test_admission_rate_is_within_two_percent_over_five_simulated_minutes(
    room: WaitingRoom, controller: AdmissionController, event_id: int
) -> None:
    await configure(room, event_id, new_users_per_minute=150)
    await join_many(room, event_id, range(1000), T0 + 1)
    results = await steps(controller, event_id, START, 300.0)
    admitted = sum(r.admitted for r in results)
    assert abs(admitted - 750) <= 0.02 * 750, f"admitted {admitted} at 150/min over 300 s"
    assert max(r.admitted for r in results) == 1, "150/min in 0.2 s steps is smooth: at most one"
    assert all(r.acted for r in results)


async def test_active_sessions_never_exceed_max_active_users(
    room: WaitingRoom, controller: AdmissionController, event_id: int
) -> None:
    await configure(
        room, event_id, new_users_per_minute=6000, max_active_users=5, admission_token_ttl_seconds=4
    )
    await join_many(room, event_id, range(100), T0 + 1)
    results = await steps(controller, event_id, START, 20.0)
    assert max(r.active_sessions for r in results) == 5
    assert sum(r.admitted for r in results) == 25, "a slot frees when a session's token expires"
    assert {r.limited_by for r in results if r.admitted == 0} == {"max_active"}


async def test_pause_holds_the_line_and_resuming_takes_effect_within_a_second(
    room: WaitingRoom, controller: AdmissionController, event_id: int
) -> None:
    await configure(room, event_id, new_users_per_minute=600)
    await join_many(room, event_id, range(200), T0 + 1)
    before = await steps(controller, event_id, START, 2.0)
    await configure(room, event_id, paused=True)
    paused = await steps(controller, event_id, START + 2, 10.0)
    await configure(room, event_id, paused=False)
    resumed = await steps(controller, event_id, START + 12, 1.0)

    serving = before[-1].serving_position
    assert serving == 20
    assert all(r.admitted == 0 and r.serving_position == serving for r in paused)
    assert {r.limited_by for r in paused} == {"paused"}
    assert resumed[0].admitted == 2, "no burst for the paused time, no delay either"
    assert sum(r.admitted for r in resumed) == 10


async def test_rate_change_takes_effect_on_the_next_step(
    room: WaitingRoom, controller: AdmissionController, event_id: int
) -> None:
    await configure(room, event_id, new_users_per_minute=300)
    await join_many(room, event_id, range(500), T0 + 1)
    slow = await steps(controller, event_id, START, 2.0)
    await configure(room, event_id, new_users_per_minute=3000)
    fast = await steps(controller, event_id, START + 2, 2.0)
    assert [r.admitted for r in slow[1:]] == [1] * 9
    assert [r.admitted for r in fast] == [10] * 10


async def test_walked_away_fans_are_skipped_without_using_a_slot(
    room: WaitingRoom, controller: AdmissionController, event_id: int
) -> None:
    await configure(room, event_id, position_expiry_seconds=30, max_active_users=5)
    tickets = await join_many(room, event_id, range(10), T0 + 1)
    staying = tickets[::2]
    for now in (T0 + 25, T0 + 50, T0 + 75, START - 1):
        await asyncio.gather(*(room.status(event_id, t, now) for t in staying))
    results = await steps(controller, event_id, START, 3.0)

    assert sum(r.admitted for r in results) == 5 and sum(r.skipped for r in results) == 5
    assert results[-1].serving_position == 10
    states = [(await room.status(event_id, t, START + 3.1)).state for t in tickets]
    assert states == [FanState.ADMITTED, FanState.EXPIRED] * 5
    summary = await room.summary(event_id, START + 3.1)
    assert (summary.active_sessions, summary.skipped_total) == (5, 5)


async def test_ending_sessions_frees_room_under_the_cap(
    room: WaitingRoom, controller: AdmissionController, event_id: int
) -> None:
    await configure(room, event_id, max_active_users=2)
    tickets = await join_many(room, event_id, range(4), T0 + 1)
    first = await steps(controller, event_id, START, 1.0)
    assert sum(r.admitted for r in first) == 2
    assert await room.end_session(event_id, 0)  # bought
    assert await room.leave(event_id, tickets[1])  # left
    then = await steps(controller, event_id, START + 1, 1.0)
    assert sum(r.admitted for r in then) == 2
    states = [(await room.status(event_id, t, START + 2.1)).state for t in tickets]
    assert states == [FanState.EXPIRED, FanState.EXPIRED, FanState.ADMITTED, FanState.ADMITTED]


async def test_two_controllers_never_both_advance_one_event(
    room: WaitingRoom, redis: aioredis.Redis, redis_prefix: str, event_id: int
) -> None:
    await configure(room, event_id, new_users_per_minute=3000)
    await join_many(room, event_id, range(2000), T0 + 1)
    a = AdmissionController(redis, redis_prefix, "controller-a")
    b = AdmissionController(redis, redis_prefix, "controller-b")
    total = 0
    for i in range(1, 51):
        now = START + i * 0.2
        ra, rb = await asyncio.gather(a.step(event_id, now), b.step(event_id, now))
        assert not (ra.acted and rb.acted), f"both controllers acted at step {i}"
        total += ra.admitted + rb.admitted
        assert rb.limited_by == "lease_held" or ra.limited_by == "lease_held"
    summary = await room.summary(event_id, START + 10)
    assert summary.serving_position == total == summary.admitted_total == 500

    await a.release(event_id)
    taken_over = await b.step(event_id, START + 10.2)
    assert taken_over.acted and taken_over.admitted == 10
    assert not (await a.step(event_id, START + 10.2)).acted


async def test_a_controller_whose_lease_expired_is_replaced(
    room: WaitingRoom, redis: aioredis.Redis, redis_prefix: str, event_id: int
) -> None:
    await configure(room, event_id)
    await join_many(room, event_id, range(50), T0 + 1)
    a = AdmissionController(redis, redis_prefix, "controller-a", lease_ms=100)
    b = AdmissionController(redis, redis_prefix, "controller-b", lease_ms=100)
    assert (await a.step(event_id, START + 0.2)).acted
    assert not (await b.step(event_id, START + 0.4)).acted
    await asyncio.sleep(0.15)  # a stalls past its lease (real time: leases use Redis' clock)
    assert (await b.step(event_id, START + 0.6)).acted
    assert not (await a.step(event_id, START + 0.8)).acted


async def test_a_controller_that_loses_its_lease_mid_step_changes_nothing(
    room: WaitingRoom,
    controller: AdmissionController,
    redis: aioredis.Redis,
    event_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await configure(room, event_id)
    await join_many(room, event_id, range(50), T0 + 1)
    keys = RoomKeys(controller._prefix, event_id)
    prepare = controller._prepare

    async def prepare_then_lose_the_lease(*args: Any) -> Any:
        prepared = await prepare(*args)
        await redis.set(keys.controller_lease, "controller-b", px=2000)
        return prepared

    monkeypatch.setattr(controller, "_prepare", prepare_then_lose_the_lease)
    result = await controller.step(event_id, START + 1)
    assert not result.acted and result.limited_by == "lease_lost"
    assert (await room.summary(event_id, START + 1)).serving_position == 0


async def test_run_loop_admits_on_the_wall_clock_and_stops(
    room: WaitingRoom, controller: AdmissionController, event_id: int
) -> None:
    await configure(room, event_id, new_users_per_minute=6000)
    await join_many(room, event_id, range(100), T0 + 1)
    stop = asyncio.Event()
    clock = iter(START + 0.2 * i for i in itertools.count(1))
    task = asyncio.create_task(
        controller.run(lambda: [event_id], stop, interval=0.01, clock=lambda: next(clock))
    )
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(task, timeout=2)
    summary = await room.summary(event_id, START)
    assert summary.admitted_total > 0
    assert (
        await controller._redis.get(RoomKeys(controller._prefix, event_id).controller_lease) is None
    )
