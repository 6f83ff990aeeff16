"""`transaction_pooling`: the store's engine works through PgBouncer in transaction mode
(Debian's pgbouncer, started on loopback from a config in a temporary directory). Without
it, PgBouncer refuses the `options` startup parameter, and psycopg's prepared statements
meet server connections that already hold them ("prepared statement _pg3_0 already
exists", seen with PgBouncer 1.18 on 2026-12-05)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from engine.store.db import make_engine

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
pytestmark = pytest.mark.skipif(not Path(PGBOUNCER).exists(), reason="pgbouncer not installed")

CLIENTS = 6
TRANSACTIONS = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture()
def bouncer_url(pg_admin_url: str, tmp_path: Path) -> Iterator[str]:
    """PgBouncer in transaction mode with 2 server connections in front of the test server."""
    server = make_url(pg_admin_url)
    port = _free_port()
    tmp_path.chmod(0o755)  # pgbouncer refuses to run as root: it reads these as nobody
    users = tmp_path / "users.txt"
    users.write_text(f'"{server.username}" ""\n')
    config = tmp_path / "pgbouncer.ini"
    config.write_text(
        "[databases]\n"
        f"* = host={server.host or '127.0.0.1'} port={server.port or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {users}\n"
        "pool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 50\n"
    )
    for path in (users, config):
        path.chmod(0o644)
    command = [PGBOUNCER, *(["-u", "nobody"] if os.geteuid() == 0 else []), str(config)]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pgbouncer did not start: {child.stderr!r}") from None
                time.sleep(0.1)
        yield server.set(drivername="postgresql+psycopg", host="127.0.0.1", port=port,
                         database="postgres").render_as_string(hide_password=False)
    finally:
        child.terminate()
        child.wait(10)


def _run_clients(url: str, transaction_pooling: bool) -> list[str]:
    engine = make_engine(url, pool_size=CLIENTS, max_overflow=0,
                         transaction_pooling=transaction_pooling)
    errors: list[str] = []

    def client() -> None:
        try:
            for n in range(TRANSACTIONS):
                with engine.begin() as conn:
                    assert conn.execute(text("SELECT CAST(:n AS int) + 1"), {"n": n}).scalar() \
                        == n + 1
        except Exception as exc:  # noqa: BLE001 - the test reports what failed
            errors.append(type(exc).__name__)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    return errors


def test_the_engine_works_through_pgbouncer_in_transaction_mode(bouncer_url: str) -> None:
    assert _run_clients(bouncer_url, transaction_pooling=True) == []

