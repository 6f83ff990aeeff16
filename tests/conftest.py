from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.support import servers


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    return servers.postgres_admin_url()


@pytest.fixture(scope="session")
def redis_url() -> str:
    return servers.redis_url()


@pytest.fixture(scope="session")
def redis_prefix() -> str:
    """Every Redis key a test session writes starts with this; cleanup deletes only these."""
    return f"onsaletest-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@pytest.fixture()
def redis_client(redis_url: str, redis_prefix: str) -> Iterator[object]:
    import redis

    client = redis.Redis.from_url(redis_url)
    yield client
    for pattern in (f"{redis_prefix}*", f"rq:*{redis_prefix}*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
    client.close()
