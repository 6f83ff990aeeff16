from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from api.launcher.embedded import process_alive
from tests.support import servers

_SESSION = re.compile(r"onsaletest-(\d+)-")
"""Every test session's Redis prefix carries the pid of its process."""


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = servers.postgres_admin_url()
    from tests.support.databases import drop_abandoned_databases

    drop_abandoned_databases(url)  # left by earlier runs that were killed mid-way
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    return servers.redis_url()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[Any]:
    """A real Redis Cluster (3 masters, 3 replicas) on loopback for the session: needs
    redis-server and redis-cli on PATH, else the tests that use it are skipped."""
    from loadtests.redis_cluster import ClusterUnavailable, start_cluster

    try:
        cluster = start_cluster()
    except ClusterUnavailable as reason:
        pytest.skip(f"no Redis Cluster: {reason}")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def redis_prefix(redis_url: str) -> Iterator[str]:
    """Every Redis key a test session writes starts with this (RQ's queue names contain it);
    at the end of the session every such key goes, and at its start the keys of test
    sessions whose process is gone (killed runs) go too. Nothing else is touched."""
    from workers.redis_client import sync_client

    prefix = f"onsaletest-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    client = sync_client(redis_url)
    _sweep_abandoned(client)
    yield prefix
    _delete_matching(client, [f"{prefix}*", f"rq:*{prefix}*"])
    _delete_jobs(client, lambda origin: prefix in origin)
    client.close()


@pytest.fixture()
def redis_client(redis_url: str, redis_prefix: str) -> Iterator[object]:
    from workers.redis_client import sync_client

    client = sync_client(redis_url)
    yield client
    _delete_matching(client, [f"{redis_prefix}*", f"rq:*{redis_prefix}*"])
    client.close()


def _delete_matching(client: Any, patterns: list[str]) -> None:
    for pattern in patterns:
        keys = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start:start + 1000])


def _job_origins(client: Any) -> dict[bytes, str]:
    """RQ job keys are named by job id, not by queue: their `origin` says the queue."""
    keys = list(client.scan_iter(match="rq:job:*", count=1000))
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hget(key, "origin")
        origins = pipe.execute()
    return {key: (origin or b"").decode() for key, origin in zip(keys, origins, strict=True)}


def _delete_jobs(client: Any, from_queue: Callable[[str], bool]) -> None:
    doomed = [key for key, origin in _job_origins(client).items() if from_queue(origin)]
    for start in range(0, len(doomed), 1000):
        client.delete(*doomed[start:start + 1000])


def _sweep_abandoned(client: Any) -> None:
    """Keys of test sessions whose process is gone (runs killed before their teardown)."""
    pids = {int(m.group(1)) for key in client.scan_iter(match="onsaletest-*", count=1000)
            if (m := _SESSION.match(key.decode()))}
    pids |= {int(m.group(1)) for origin in _job_origins(client).values()
             if (m := _SESSION.search(origin))}
    dead = {pid for pid in pids if not process_alive(pid)}
    if not dead:
        return
    _delete_matching(client, [pattern for pid in dead
                              for pattern in (f"onsaletest-{pid}-*", f"rq:*onsaletest-{pid}-*")])

    def from_dead_session(origin: str) -> bool:
        match = _SESSION.search(origin)
        return match is not None and int(match.group(1)) in dead

    _delete_jobs(client, from_dead_session)
