"""Schema migrations, callable from code: the app, the CLI and the tests share these.

The Alembic ini is found next to this file, so migrations run the same from a
checkout, an installed wheel or any working directory.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, exc, pool, text
from sqlalchemy.engine import make_url

ALEMBIC_INI = Path(__file__).resolve().with_name("alembic.ini")


def alembic_config(database_url: str | None = None) -> Config:
    config = Config(str(ALEMBIC_INI))
    if database_url is not None:
        # ConfigParser interpolates '%', which URL-encoded passwords contain.
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


class DatabaseUnavailableError(RuntimeError):
    """The configured Postgres server refuses us (down, unknown role), or its database cannot
    be created."""


def create_database_if_missing(database_url: str) -> bool:
    """Create the URL's database on its server unless it exists (asking the server's
    `postgres` database); True if it was created here."""
    url = make_url(database_url)
    name = url.database
    if not name:
        raise DatabaseUnavailableError("the database URL names no database")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT",
                          poolclass=pool.NullPool)
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    try:
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                            {"name": name}).first():
                return False
            quoted = name.replace('"', '""')
            conn.execute(text(f'CREATE DATABASE "{quoted}"'))
            return True
    except exc.ProgrammingError as error:
        if "already exists" in str(error.orig):  # created meanwhile by another process
            return False
        raise DatabaseUnavailableError(
            f"database {name!r} does not exist on {where} and could not be created: "
            f"{error.orig}") from error
    except exc.OperationalError as error:
        raise DatabaseUnavailableError(
            f"cannot connect to Postgres at {where}: {error.orig}") from error
    finally:
        admin.dispose()


def downgrade_to(database_url: str, revision: str = "base") -> None:
    """Undo migrations down to `revision`; "base" drops every table the migrations made."""
    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found next to {ALEMBIC_INI}")
    return head


def current_revision(database_url: str) -> str | None:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def is_current(database_url: str) -> bool:
    return current_revision(database_url) == head_revision()
