"""Run a test module against one Redis server and against a real Redis Cluster.

A module (or a conftest) that does `redis_url = single_and_cluster_redis_url()` gets every
test that uses Redis twice: `[single]` on the usual server, `[cluster]` (marker `cluster`)
on the session's cluster of 3 masters and 3 replicas (`redis_cluster` in tests/conftest.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import servers

SINGLE = "single"
CLUSTER = "cluster"


def single_and_cluster_redis_url() -> Any:
    @pytest.fixture(scope="session",
                    params=[SINGLE, pytest.param(CLUSTER, marks=pytest.mark.cluster)])
    def redis_url(request: pytest.FixtureRequest) -> str:
        if request.param == CLUSTER:
            return str(request.getfixturevalue("redis_cluster").url)
        return servers.redis_url()

    return redis_url
