"""Embedded Postgres + Redis: data survives a stop/start, and a second process
using the same data directory attaches without ever stopping the owner's servers."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
import sqlalchemy

from api.launcher import embedded
from api.launcher.settings import Settings

pytestmark = pytest.mark.integration


def _postgres_value(database_url: str, *statements: str) -> object:
    """Runs the statements in one transaction; the last one's first value."""
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                result = connection.execute(sqlalchemy.text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


def test_data_survives_a_restart_and_attachers_never_stop_the_owner(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")

    owner = embedded.start(settings)
    try:
        assert owner.owner and owner.database_url and owner.redis_url
        _postgres_value(
            owner.database_url, "CREATE TABLE kept (value int)", "INSERT INTO kept VALUES (42)"
        )
        with redis.Redis.from_url(owner.redis_url) as client:
            client.set("kept", "42")

        attached = embedded.start(settings)
        assert not attached.owner
        assert (attached.database_url, attached.redis_url) == (owner.database_url, owner.redis_url)
        attached.stop()
        assert _postgres_value(owner.database_url, "SELECT 1") == 1
        with redis.Redis.from_url(owner.redis_url) as client:
            assert client.ping()
    finally:
        owner.stop()

    assert owner.postgres_pid is not None and owner.redis_pid is not None
    assert not embedded.process_alive(owner.postgres_pid)
    assert not embedded.process_alive(owner.redis_pid)

    again = embedded.start(settings)
    try:
        assert _postgres_value(again.database_url or "", "SELECT value FROM kept") == 42
        with redis.Redis.from_url(again.redis_url or "") as client:
            assert client.get("kept") == b"42"
    finally:
        again.stop()
