"""Postgres fixtures: one throwaway database per test session, migrated to head.

The database is named onsale_test_<pid>_<random> so parallel sessions never
share one, and it is dropped at the end. Nothing here touches another database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from engine.store.db import make_engine
from engine.store.migrate import upgrade_to_head
from engine.store.models import TABLE_NAMES
from tests.support.databases import TEST_DATABASE_PREFIX, create_database, drop_database


@pytest.fixture(scope="session")
def test_database_name() -> str:
    return f"{TEST_DATABASE_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def database_url(pg_admin_url: str, test_database_name: str) -> Iterator[str]:
    url = create_database(pg_admin_url, test_database_name)
    upgrade_to_head(url)
    yield url
    drop_database(pg_admin_url, test_database_name)


@pytest.fixture(scope="session")
def _session_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture()
def db_engine(_session_engine: Engine) -> Engine:
    """The session's engine on an empty schema: every table of ours is truncated first."""
    with _session_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLE_NAMES)} RESTART IDENTITY CASCADE"))
    return _session_engine
