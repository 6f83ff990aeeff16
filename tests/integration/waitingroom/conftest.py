"""Fixtures of the waiting-room integration tests: a room and a controller on real Redis."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.support.redis_targets import single_and_cluster_redis_url
from tests.support.rooms import SIGNER
from waitingroom.controller import AdmissionController
from waitingroom.room import WaitingRoom
from workers.redis_client import async_client

_event_ids = itertools.count(1)

redis_url = single_and_cluster_redis_url()


@pytest.fixture()
async def redis(redis_url: str, redis_client: object) -> AsyncIterator[aioredis.Redis]:
    """`redis_client` is requested for its teardown: it deletes every key under the prefix."""
    client = async_client(redis_url)
    yield client
    await client.aclose()


@pytest.fixture()
def event_id() -> int:
    return next(_event_ids)


@pytest.fixture()
def room(redis: aioredis.Redis, redis_prefix: str) -> WaitingRoom:
    return WaitingRoom(redis, redis_prefix, SIGNER)


@pytest.fixture()
def controller(redis: aioredis.Redis, redis_prefix: str) -> AdmissionController:
    return AdmissionController(redis, redis_prefix, "controller-a")
