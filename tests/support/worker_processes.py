"""Real `onsale worker` processes for the failover tests, and waiting on a condition."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable


def start_worker(database_url: str, redis_url: str, prefix: str, *, lease_ttl_ms: int,
                 batch_max: int) -> subprocess.Popen[bytes]:
    """One partition consumer process on a single partition, built by its composition root."""
    env = {**os.environ, "ONSALE_DATABASE_URL": database_url, "ONSALE_REDIS_URL": redis_url,
           "ONSALE_REDIS_PREFIX": prefix, "ONSALE_PARTITIONS": "1",
           "ONSALE_LEASE_TTL_MS": str(lease_ttl_ms), "ONSALE_BATCH_MAX": str(batch_max),
           "ONSALE_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-c",
                             "from api.launcher.settings import Settings; "
                             "from api.launcher.roots import run_worker; "
                             "run_worker(Settings.from_env())"], env=env)


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> float:
    """Seconds until `predicate()` held; an AssertionError naming `what` after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
