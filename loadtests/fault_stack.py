"""A local stack for fault injection: `onsale up` against a Postgres and a Redis that
this run owns, each reached through a fault proxy.

    with fault_stack(work_dir, api_processes=2, workers=2) as stack:
        stack.url                      # http://127.0.0.1:<port> for the journeys
        stack.processes()              # {"api-1": pid, "worker-1": pid, ...} (processes.json)
        stack.kill("api-1")            # SIGKILL one process of `onsale up` by name
        stack.redis.kill(); stack.redis.start()               # Redis crash + restart (AOF)
        stack.postgres.stop_immediate(); stack.postgres.start()  # Postgres immediate restart
        stack.redis_proxy.cut(); ...; stack.redis_proxy.restore()  # Redis unreachable
        stack.postgres_proxy.set_delay(50, 500)                 # slow Postgres
        stack.direct_database_url     # bypasses the proxy (for the audit after a cut)

Every process of the stack uses `stack.database_url` / `stack.redis_url`, the
proxies' ports; the servers behind them listen on other loopback ports and
keep their data in `work_dir`, so restarting one keeps every client's URL.
Nothing here touches the machine's shared servers. On exit `onsale up` is
stopped, then the proxies and servers, and their data removed.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from api.launcher.process_table import read_processes
from loadtests.fault_servers import DATABASE_NAME, OwnedPostgres, OwnedRedis
from loadtests.faultproxy import FaultProxy
from loadtests.surge_stack import Stack, local_stack


@dataclass
class FaultStack:
    stack: Stack
    data_dir: Path
    log_path: Path
    redis: OwnedRedis
    postgres: OwnedPostgres
    redis_proxy: FaultProxy
    postgres_proxy: FaultProxy

    @property
    def url(self) -> str:
        return self.stack.host

    @property
    def database_url(self) -> str:
        return self.stack.database_url

    @property
    def redis_url(self) -> str:
        return self.stack.redis_url

    @property
    def direct_database_url(self) -> str:
        return self.postgres.url

    @property
    def direct_redis_url(self) -> str:
        return self.redis.url

    def processes(self) -> dict[str, int | None]:
        """`onsale up`'s processes by name (see api/launcher/process_table.py); None: restarting."""
        return read_processes(self.data_dir)

    def kill(self, name: str, signum: int = signal.SIGKILL) -> int:
        """Signal one process of `onsale up` by its name in processes.json; its pid."""
        pid = self.processes().get(name)
        if pid is None:
            raise LookupError(f"no running process {name!r} in {self.data_dir}/processes.json")
        os.kill(pid, signum)
        return pid


@contextlib.contextmanager
def fault_stack(work_dir: Path, *, api_processes: int = 2, workers: int = 2,
                log_path: Path | None = None) -> Iterator[FaultStack]:
    work_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_path or work_dir / "up.log"
    redis = OwnedRedis(work_dir / "redis")
    postgres = OwnedPostgres(work_dir / "postgres")
    redis_proxy = FaultProxy(("127.0.0.1", 0), ("127.0.0.1", redis.port))
    postgres_proxy = FaultProxy(("127.0.0.1", 0), ("127.0.0.1", postgres.port))
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(redis.remove)
        redis.start()
        cleanup.callback(postgres.remove)
        postgres.start()
        cleanup.callback(redis_proxy.stop)
        redis_proxy.start()
        cleanup.callback(postgres_proxy.stop)
        postgres_proxy.start()
        urls = (
            f"postgresql+psycopg://postgres@127.0.0.1:{postgres_proxy.port}/{DATABASE_NAME}",
            f"redis://127.0.0.1:{redis_proxy.port}/0",
        )
        data_dir = work_dir / "data"
        with local_stack(data_dir, log_path, workers, api_processes=api_processes,
                         server_urls=urls) as stack:
            yield FaultStack(stack, data_dir, log_path, redis, postgres, redis_proxy,
                             postgres_proxy)
