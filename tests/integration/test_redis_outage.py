"""Partition consumers after Redis went away: a lease that could not be released is no
longer counted as held, so the worker process takes its partitions again once Redis is back.

Invariant: every partition is served again after a Redis restart, without restarting
the worker processes (before, the stale tokens made each process believe it held its
fair share, and no partition was consumed until the processes exited).
"""

from __future__ import annotations

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support.servers import free_port
from workers.keys import Keys
from workers.lease import PartitionLease

pytestmark = pytest.mark.integration


def test_a_lease_released_while_redis_is_down_is_not_ours_any_more(
    redis_url: str, redis_prefix: str
) -> None:
    lease = PartitionLease(redis.Redis.from_url(redis_url), Keys(redis_prefix), "p0",
                           "owner-a", ttl_ms=1000)
    assert lease.try_acquire() is not None
    down = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2,
                       retry=Retry(NoBackoff(), 0))
    lease._release = down.register_script("return 0")  # the server went away
    with pytest.raises(redis.ConnectionError):
        lease.release()
    assert lease.token is None
