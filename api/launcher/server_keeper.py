"""Keeps `onsale up`'s embedded Postgres and Redis running.

The servers are daemons, not children of `onsale up`, so nothing would notice
one dying: the stack then answered 503 `not_ready` until restarted by hand.
A thread polls their pids and restarts a dead one on the same data directory
and the same socket, so every client's URL stays valid and each process
reconnects by itself. Restarts back off (0.5 s doubling to 30 s) so a server
that cannot start does not spin; each is logged and its new pid listed in
`processes.json`.

Redis comes back from its append-only file (fsynced every second); Postgres
runs crash recovery from its WAL, so no committed transaction is lost.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from api.launcher.embedded import EmbeddedServers, write_state
from api.launcher.process_table import ProcessTable
from api.launcher.redis_server import start as start_redis_server
from workers.processes import process_alive

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
RESTART_BACKOFF_FIRST_SECONDS = 0.5
RESTART_BACKOFF_MAX_SECONDS = 30.0


@dataclass
class _Kept:
    """One server: how to read its pid, how to restart it, when to try next."""

    name: str
    label: str
    pid: Callable[[], int | None]
    restart: Callable[[], int]
    down_since: float | None = None
    retry_at: float = 0.0
    failures_in_a_row: int = 0
    restarts: int = 0


@contextlib.contextmanager
def kept_running(servers: EmbeddedServers, processes: ProcessTable) -> Iterator[None]:
    """Watch the servers for the duration of the block (`embedded.servers_for(keep=...)`);
    stopped before the servers are stopped on purpose."""
    keeper = ServerKeeper(servers, processes)
    keeper.start()
    try:
        yield
    finally:
        keeper.stop()


class ServerKeeper:
    def __init__(self, servers: EmbeddedServers, processes: ProcessTable) -> None:
        self.servers = servers
        self.processes = processes
        self.kept: list[_Kept] = []
        if servers._redis is not None:
            self.kept.append(_Kept("redis", "embedded Redis", lambda: servers.redis_pid,
                                   self._restart_redis))
        if servers._postgres is not None:
            self.kept.append(_Kept("postgres", "embedded Postgres",
                                   lambda: servers.postgres_pid, self._restart_postgres))
        for server in self.kept:
            processes.set(server.name, server.pid())
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="server-keeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (before the servers are stopped on purpose)."""
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(POLL_SECONDS):
            for server in self.kept:
                if self._stopping.is_set():
                    return
                self._tend(server, time.monotonic())

    def _tend(self, server: _Kept, now: float) -> None:
        pid = server.pid()
        if server.down_since is None:
            if pid is not None and process_alive(pid):
                return
            server.down_since = now
            server.retry_at = now
            log.warning("%s (pid %s) is gone; restarting it", server.label, pid)
            self.processes.set(server.name, None)
        if now < server.retry_at:
            return
        try:
            new_pid = server.restart()
        except Exception as exc:  # noqa: BLE001  any failure to start is retried later
            server.failures_in_a_row += 1
            delay = min(RESTART_BACKOFF_MAX_SECONDS,
                        RESTART_BACKOFF_FIRST_SECONDS * 2 ** (server.failures_in_a_row - 1))
            server.retry_at = time.monotonic() + delay
            log.warning("%s did not start (%s); next try in %.1fs",
                        server.label, str(exc).splitlines()[0][:200] if str(exc) else
                        type(exc).__name__, delay)
            return
        server.restarts += 1
        log.warning("%s restarted (pid %d, restart #%d, down %.1fs)", server.label, new_pid,
                    server.restarts, time.monotonic() - server.down_since)
        server.down_since = None
        server.failures_in_a_row = 0
        self.processes.set(server.name, new_pid)
        write_state(self.servers)

    def _restart_redis(self) -> int:
        assert self.servers._redis is not None
        self.servers.redis_pid = start_redis_server(self.servers._redis)
        return self.servers.redis_pid

    def _restart_postgres(self) -> int:
        server = self.servers._postgres
        with server._lock:
            # As root, pgserver runs Postgres as its own user and opens the path to the data
            # for it here (no initdb: the data exists); then the start, crash recovery first.
            server.ensure_pgdata_inited()
            server.ensure_postgres_running()
        pid = server.get_pid()
        if pid is None or not process_alive(int(pid)):
            # pgserver took the killed postmaster, not yet reaped, for a running one
            raise RuntimeError("the old postmaster is still exiting")
        self.servers.postgres_pid = int(pid)
        return self.servers.postgres_pid
