"""Create and drop the throwaway databases integration tests run in (never any other)."""

from __future__ import annotations

import re

from sqlalchemy import Engine, create_engine, text

from api.launcher.embedded import process_alive
from tests.support.servers import with_database

TEST_DATABASE_PREFIX = "onsale_test_"
_PID_IN_NAME = re.compile(r"^onsale_test_(?:e2e_)?(\d+)_[0-9a-f]+$")


def _admin_engine(pg_admin_url: str) -> Engine:
    return create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")


def _checked(name: str) -> str:
    if not name.startswith(TEST_DATABASE_PREFIX) or not name.replace("_", "").isalnum():
        raise ValueError(f"refusing to touch database {name!r}: not a test database")
    return name


def create_database(pg_admin_url: str, name: str) -> str:
    """Create a fresh test database (dropping a leftover of the same name); returns its URL."""
    admin = _admin_engine(pg_admin_url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{_checked(name)}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{_checked(name)}"'))
    finally:
        admin.dispose()
    return with_database(pg_admin_url, name)


def drop_database(pg_admin_url: str, name: str) -> None:
    admin = _admin_engine(pg_admin_url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{_checked(name)}" WITH (FORCE)'))
    finally:
        admin.dispose()


def drop_abandoned_databases(pg_admin_url: str) -> list[str]:
    """Drop test databases whose test process is gone (a run that was killed before its
    teardown). Names carry the creating pid: `onsale_test_[e2e_]<pid>_<hex>`; a database
    is dropped only if it has our prefix and its pid is not a live process."""
    admin = _admin_engine(pg_admin_url)
    dropped: list[str] = []
    try:
        with admin.connect() as conn:
            names = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                                 {"p": TEST_DATABASE_PREFIX + "%"}).scalars().all()
            for name in names:
                match = _PID_IN_NAME.match(name)
                if match is None or process_alive(int(match.group(1))):
                    continue
                conn.execute(text(f'DROP DATABASE IF EXISTS "{_checked(name)}" WITH (FORCE)'))
                dropped.append(name)
    finally:
        admin.dispose()
    return dropped
