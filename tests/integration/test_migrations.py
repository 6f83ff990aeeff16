"""Migrations build the schema from nothing, undo it, and agree with the models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from api.launcher import cli
from engine.store import migrate
from engine.store.models import TABLE_NAMES, Base
from tests.support.databases import create_database, drop_database
from tests.support.servers import free_port, with_database

pytestmark = pytest.mark.integration

UNUSED_REDIS_URL = "redis://127.0.0.1:1/0"
"""Configured so the CLI starts no embedded Redis; migrating never connects to it."""


@pytest.fixture(scope="module")
def empty_database_url(pg_admin_url: str, test_database_name: str) -> Iterator[str]:
    """A second database, empty at first (dropping a database forces a slow checkpoint)."""
    name = f"{test_database_name}_mig"
    yield create_database(pg_admin_url, name)
    drop_database(pg_admin_url, name)


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_from_empty_builds_the_schema(empty_database_url: str) -> None:
    assert migrate.current_revision(empty_database_url) is None
    assert not migrate.is_current(empty_database_url)
    migrate.upgrade_to_head(empty_database_url)
    assert _tables(empty_database_url) == {*TABLE_NAMES, "alembic_version"}
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()
    assert migrate.is_current(empty_database_url)


def test_downgrade_to_base_and_upgrade_again(empty_database_url: str) -> None:
    migrate.upgrade_to_head(empty_database_url)
    migrate.downgrade_to(empty_database_url, "base")
    assert _tables(empty_database_url) == {"alembic_version"}
    assert migrate.current_revision(empty_database_url) is None
    migrate.upgrade_to_head(empty_database_url)
    assert migrate.is_current(empty_database_url)


def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True})
            assert compare_metadata(context, Base.metadata) == [], \
                "models.py and the migrations describe different schemas: add a revision"
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(database_url: str) -> None:
    migrate.upgrade_to_head(database_url)
    assert migrate.is_current(database_url)


def test_migrate_creates_a_missing_database(pg_admin_url: str, test_database_name: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """`onsale migrate` (and `up`, `demo-data`, `bench`) on a server without the configured
    database creates it first, instead of failing with a driver traceback."""
    name = f"{test_database_name}_new"
    drop_database(pg_admin_url, name)
    url = with_database(pg_admin_url, name)
    monkeypatch.setenv("ONSALE_DATABASE_URL", url)
    monkeypatch.setenv("ONSALE_REDIS_URL", UNUSED_REDIS_URL)
    try:
        assert cli.main(["migrate"]) == 0
        assert migrate.is_current(url)
        assert migrate.create_database_if_missing(url) is False, "it exists now"
    finally:
        drop_database(pg_admin_url, name)


def test_an_unreachable_server_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                capfd: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/onsale"
    with pytest.raises(migrate.DatabaseUnavailableError, match="cannot connect to Postgres at"):
        migrate.create_database_if_missing(url)
    monkeypatch.setenv("ONSALE_DATABASE_URL", url)
    monkeypatch.setenv("ONSALE_REDIS_URL", UNUSED_REDIS_URL)
    assert cli.main(["migrate"]) == 1
    err = capfd.readouterr().err
    assert "cannot connect to Postgres at 127.0.0.1" in err
    assert "Traceback" not in err
