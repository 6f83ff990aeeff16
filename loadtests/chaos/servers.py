"""The server faults on a `fault_stack`: its own Postgres and Redis, each behind a proxy.

Nothing restarts those servers by itself, so the restart is part of the fault:
the blow (SIGKILL of Redis, immediate shutdown of Postgres), then the start
again at once, as a supervisor or an orchestrator would. Unreachable and slow
are the proxy's cut and delay for the fault's time.
"""

from __future__ import annotations

import time

from loadtests.fault_stack import FaultStack
from loadtests.faultproxy import FaultProxy


class StackServers:
    def __init__(self, stack: FaultStack):
        self._stack = stack

    def _proxy(self, server: str) -> FaultProxy:
        return self._stack.redis_proxy if server == "redis" else self._stack.postgres_proxy

    def restart_redis(self) -> int | None:
        """SIGKILL Redis, start it again on its port and data (it replays its AOF); its pid."""
        pid = self._stack.redis.kill()
        self._stack.redis.start()
        return pid

    def restart_postgres(self) -> int | None:
        """`pg_ctl stop -m immediate`, then start (crash recovery); the old postmaster's pid."""
        pid = self._stack.postgres.stop_immediate()
        self._stack.postgres.start()
        return pid

    def cut(self, server: str, seconds: float) -> None:
        proxy = self._proxy(server)
        proxy.cut()
        try:
            time.sleep(seconds)
        finally:
            proxy.restore()

    def slow(self, server: str, low_ms: float, high_ms: float, seconds: float) -> None:
        proxy = self._proxy(server)
        proxy.set_delay(low_ms, high_ms)
        try:
            time.sleep(seconds)
        finally:
            proxy.set_delay(0)
