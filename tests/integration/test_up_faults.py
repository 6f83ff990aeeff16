"""`onsale up` survives its own parts dying: with two API processes on one port, one
killed leaves the other serving and is restarted; the embedded Redis killed (SIGKILL)
and Postgres shut down at once (immediate mode) are restarted on the same sockets,
with their data, and /readyz answers 200 again by itself.

Invariant: a stack started by `onsale up` recovers from a dead server without a human.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis
import sqlalchemy

from api.launcher.process_table import read_processes
from tests.integration.test_up_smoke import _start_up, _status, _stop_up, _wait_until
from workers.processes import process_alive

pytestmark = pytest.mark.integration

READY_TIMEOUT_SECONDS = 90.0
RECOVERY_TIMEOUT_SECONDS = 60.0


def _replaced(data_dir: Path, name: str, old_pid: int | None) -> bool:
    pid = read_processes(data_dir).get(name)
    return pid is not None and pid != old_pid and process_alive(pid)


def _status_within(url: str, timeout: float) -> int | None:
    """One request, waiting up to `timeout` for its answer (None if there is none)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _listening_sockets(pid: int) -> set[str]:
    """The socket inodes a process holds (from /proc; empty if it is gone)."""
    inodes: set[str] = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
    except OSError:
        pass
    return inodes


def _listens_on(pid: int, port: int) -> bool:
    """Whether `pid` has a listening TCP socket on `port` (/proc/net/tcp, state 0A)."""
    listeners = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
            listeners.add(fields[9])
    return bool(listeners & _listening_sockets(pid))


def _watch_readiness(readyz: str, seconds: float) -> list[int | None]:
    """Statuses seen while polling for `seconds` (a 503 is seen when the outage outlasts
    one poll; the restart may be quicker than that)."""
    seen: list[int | None] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.append(_status(readyz))
        if seen[-1] == 200 and any(code != 200 for code in seen):
            break
        time.sleep(0.05)
    return seen


def test_up_restarts_api_processes_and_embedded_servers(tmp_path: Path) -> None:
    up, data_dir, readyz, log = _start_up(tmp_path, "--api-processes", "2")
    try:
        _wait_until(lambda: _status(readyz) == 200, READY_TIMEOUT_SECONDS, "ready", up, log)
        processes = read_processes(data_dir)
        assert processes["up"] == up.pid
        assert {"api-1", "api-2", "redis", "postgres"} <= processes.keys(), processes
        port = int(readyz.rsplit(":", 1)[1].split("/", 1)[0])
        _wait_until(lambda: all(_listens_on(processes[name] or 0, port)
                                for name in ("api-1", "api-2")),
                    READY_TIMEOUT_SECONDS, "both API processes listening", up, log)

        # One API process dies: the other one keeps the port; the dead one comes back.
        os.kill(processes["api-1"] or 0, signal.SIGKILL)
        _wait_until(lambda: not process_alive(processes["api-1"] or 0), 10, "api-1 gone", up, log)
        # A connection the kernel had queued on api-1's socket as it died is reset, so the
        # first try may fail; api-2 answers the next ones, before api-1 is back.
        _wait_until(lambda: _status_within(readyz, 15.0) == 200
                    and not _listens_on(read_processes(data_dir).get("api-1") or 0, port),
                    10, "api-2 serving the port alone", up, log)
        _wait_until(lambda: _replaced(data_dir, "api-1", processes["api-1"]),
                    RECOVERY_TIMEOUT_SECONDS, "restarting api-1", up, log)

        state = json.loads((data_dir / "embedded.json").read_text())
        with redis.Redis.from_url(state["redis_url"]) as client:
            client.set("kept-across-restart", "1")
        time.sleep(1.5)  # appendfsync everysec: older than a second is on disk

        os.kill(processes["redis"] or 0, signal.SIGKILL)
        seen = _watch_readiness(readyz, RECOVERY_TIMEOUT_SECONDS)
        print(f"/readyz after killing Redis: {seen[:3]}...{seen[-3:]} ({len(seen)} polls)")
        assert seen[-1] == 200, seen
        _wait_until(lambda: _replaced(data_dir, "redis", processes["redis"]),
                    RECOVERY_TIMEOUT_SECONDS, "redis listed again", up, log)
        with redis.Redis.from_url(state["redis_url"]) as client:
            assert client.get("kept-across-restart") == b"1"

        engine = sqlalchemy.create_engine(state["database_url"], pool_pre_ping=True)
        try:
            with engine.begin() as connection:
                connection.execute(sqlalchemy.text("CREATE TABLE kept (value int)"))
                connection.execute(sqlalchemy.text("INSERT INTO kept VALUES (7)"))
            os.kill(processes["postgres"] or 0, signal.SIGQUIT)  # immediate shutdown
            seen = _watch_readiness(readyz, RECOVERY_TIMEOUT_SECONDS)
            print(f"/readyz after stopping Postgres: {seen[:3]}...{seen[-3:]}")
            assert seen[-1] == 200, seen
            _wait_until(lambda: _replaced(data_dir, "postgres", processes["postgres"]),
                        RECOVERY_TIMEOUT_SECONDS, "postgres listed again", up, log)
            with engine.connect() as connection:
                assert connection.execute(sqlalchemy.text("SELECT value FROM kept")).scalar() == 7
        finally:
            engine.dispose()
        assert "embedded Redis restarted" in log.read_text()
        assert "embedded Postgres restarted" in log.read_text()
    finally:
        _stop_up(up, log)
    assert up.returncode == 0, log.read_text()
    assert not (data_dir / "processes.json").exists()
