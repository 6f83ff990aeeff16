"""The stack fault-injection runs use: `onsale up` on servers of its own behind fault
proxies. Restarting a server or cutting a proxy takes the stack's readiness away, and it
comes back by itself, on the same URLs; the machine's shared servers are never touched.

Invariant: every process of the stack reconnects by itself after Redis or Postgres returns.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from loadtests.fault_stack import fault_stack

pytestmark = pytest.mark.integration

RECOVERY_TIMEOUT_SECONDS = 60.0


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _wait_ready(url: str) -> float:
    started = time.monotonic()
    while not _ready(url):
        assert time.monotonic() - started < RECOVERY_TIMEOUT_SECONDS, "not ready again"
        time.sleep(0.1)
    return time.monotonic() - started


def test_servers_restart_and_cut_proxies_and_the_stack_recovers(tmp_path: Path) -> None:
    with fault_stack(tmp_path / "run", api_processes=2, workers=1) as stack:
        assert {"api-1", "api-2", "worker"} <= stack.processes().keys()
        assert "redis" not in stack.processes()  # its servers are the run's, not embedded

        killed = stack.redis.kill()
        assert killed is not None and not _ready(stack.url)
        stack.redis.start()
        print(f"ready {_wait_ready(stack.url):.1f}s after Redis restarted")

        stack.postgres.stop_immediate()
        assert not _ready(stack.url)
        stack.postgres.start()
        print(f"ready {_wait_ready(stack.url):.1f}s after Postgres restarted")

        stack.postgres_proxy.cut("refuse")
        assert not _ready(stack.url)
        stack.postgres_proxy.restore()
        print(f"ready {_wait_ready(stack.url):.1f}s after Postgres was reachable again")

        old = stack.kill("api-1")
        deadline = time.monotonic() + RECOVERY_TIMEOUT_SECONDS
        while stack.processes().get("api-1") in (None, old):
            assert time.monotonic() < deadline, "api-1 not restarted"
            time.sleep(0.1)
        assert _ready(stack.url)
