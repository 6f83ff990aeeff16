"""Create and drop the throwaway databases integration tests run in (never any other)."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, text

from tests.support.servers import with_database

TEST_DATABASE_PREFIX = "onsale_test_"


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
