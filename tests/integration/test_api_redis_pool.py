"""The API's Redis client under a surge: more concurrent commands than redis-py's default
pool (100) must all be served, not refused with "Too many connections"."""

from __future__ import annotations

import asyncio

import pytest

from api.http.app import make_redis
from api.launcher.settings import Settings

pytestmark = pytest.mark.integration


async def test_the_api_client_serves_more_concurrent_commands_than_the_default_pool(
        redis_url: str, redis_prefix: str) -> None:
    client = make_redis(Settings(redis_url=redis_url))
    key = f"{redis_prefix}:never-filled"
    try:
        # Each BLPOP holds its connection until it times out: 150 at once need 150.
        answers = await asyncio.gather(*(client.blpop([key], timeout=0.3) for _ in range(150)))
    finally:
        await client.aclose()
    assert answers == [None] * 150
