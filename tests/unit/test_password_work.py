"""argon2 runs in bounded slots: a flood of sign-ins waits (up to a point) instead of taking
every thread the database calls need, and past that point is told to retry (503 busy)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from api.fan.sign_in_limits import PasswordWork
from api.http.errors import ApiError


async def test_at_most_the_slots_run_at_once_and_the_overflow_is_busy() -> None:
    work = PasswordWork(slots=1, max_queued=1)
    release = threading.Event()
    running: list[str] = []

    def hash_password(name: str) -> str:
        running.append(name)
        release.wait(5)
        return name

    first = asyncio.create_task(work.run(hash_password, "first"))
    second = asyncio.create_task(work.run(hash_password, "second"))
    while not running:
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.01)
    assert running == ["first"]  # the second waits for the one slot

    with pytest.raises(ApiError) as refused:
        await work.run(hash_password, "third")  # the queue of one is full
    assert refused.value.status == 503 and refused.value.code == "busy"
    assert refused.value.details["retry_after"] == 1

    release.set()
    assert await asyncio.gather(first, second) == ["first", "second"]
