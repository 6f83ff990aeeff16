"""Where a surge runs: a local stack started for it, or a running one on this machine.

The local stack is `onsale up` itself, as a child process, on a free port and
a fresh data directory (its own embedded Postgres and Redis), so the surge
exercises exactly what a developer runs and never touches their data. A
given `--host` must be a loopback address: a surge never leaves the machine.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

READY_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 45.0
PASSED_THROUGH = ("ONSALE_LOG_LEVEL", "ONSALE_LOG_JSON", "ONSALE_PARTITIONS", "ONSALE_BATCH_MAX")


class StackError(RuntimeError):
    """The stack could not be started or reached; the message says what to do."""


@dataclass(frozen=True)
class Stack:
    host: str
    """Base URL the journeys target (always loopback)."""
    database_url: str
    redis_url: str
    redis_prefix: str
    local: bool


def check_loopback(url: str) -> str:
    """The URL without a trailing slash, if its host is loopback; StackError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StackError(f"--host {url!r}: give a URL such as http://127.0.0.1:8080")
    host = parts.hostname
    loopback = host == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    if not loopback:
        raise StackError(f"--host {url!r}: a surge only targets this machine "
                         "(127.0.0.0/8, ::1 or localhost)")
    return url.rstrip("/")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


@contextlib.contextmanager
def local_stack(data_dir: Path, log_path: Path, workers: int, *, api_processes: int = 1,
                server_urls: tuple[str, str] | None = None) -> Iterator[Stack]:
    """`onsale up` on a free port with embedded servers in `data_dir`; stopped on exit.

    `server_urls` (database, Redis) points it at servers of the caller's instead.
    """
    port = free_port()
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("ONSALE_") or key in PASSED_THROUGH}
    environment.update(ONSALE_SIGNUPS_PER_IP_PER_MINUTE="0",  # every fan signs up from here
                       ONSALE_DATA_DIR=str(data_dir), ONSALE_PORT=str(port),
                       ONSALE_HOST="127.0.0.1", ONSALE_WORKERS=str(workers),
                       ONSALE_API_PROCESSES=str(api_processes), PYTHONUNBUFFERED="1")
    if server_urls is not None:
        environment.update(ONSALE_DATABASE_URL=server_urls[0], ONSALE_REDIS_URL=server_urls[1])
    environment.setdefault("ONSALE_LOG_LEVEL", "WARNING")
    url = f"http://127.0.0.1:{port}"
    with log_path.open("ab") as log:
        up = subprocess.Popen([sys.executable, "-m", "api.launcher.cli", "up", "--port", str(port)],
                              env=environment, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not _ready(url):
            if up.poll() is not None:
                raise StackError(f"`onsale up` exited with {up.returncode}; see {log_path}")
            if time.monotonic() > deadline:
                raise StackError(f"`onsale up` not ready in {READY_TIMEOUT_SECONDS:.0f}s; "
                                 f"see {log_path}")
            time.sleep(0.3)
        if server_urls is None:
            state = json.loads((data_dir / "embedded.json").read_text())
            server_urls = (state["database_url"], state["redis_url"])
        yield Stack(url, server_urls[0], server_urls[1], "onsale", local=True)
    finally:
        _stop(up)


def _stop(up: subprocess.Popen[bytes]) -> None:
    if up.poll() is None:
        up.send_signal(signal.SIGINT)
    try:
        up.wait(STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(up.pid, signal.SIGKILL)
        up.wait()


@contextlib.contextmanager
def running_stack(host: str) -> Iterator[Stack]:
    """A stack already serving `host`; its stores from the ONSALE_* settings (as `onsale up`'s)."""
    from api.launcher import embedded
    from api.launcher.settings import Settings, SettingsError

    url = check_loopback(host)
    if not _ready(url):
        raise StackError(f"{url}/readyz does not answer 200: is the stack up?")
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise StackError(f"configuration error: {exc}") from None
    with embedded.servers_for(settings) as resolved:
        assert resolved.database_url and resolved.redis_url
        yield Stack(url, resolved.database_url, resolved.redis_url, resolved.redis_prefix,
                    local=False)
