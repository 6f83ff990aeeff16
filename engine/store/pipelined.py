"""The statements of one transaction, sent to Postgres in one round trip.

A batch commit is a dozen set-based statements. Sent one by one, each pays a
network round trip and a wake-up of both processes; on a busy two-core box
that is most of the commit's time. psycopg's pipeline mode sends them all and
reads the results once; rows-touched checks run after, and any failure still
rolls the whole transaction back (the caller's `engine.begin()` block).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import sqlalchemy.exc
from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from engine.store.errors import InventoryConflictError, StoreError

_COMPILED: dict[int, str] = {}
_DIALECT = PGDialect_psycopg()  # type: ignore[no-untyped-call]
"""Statements are compiled once for psycopg, without a connection: a batch's writes can be
built in one thread and sent from another."""


@dataclass
class Slot:
    """The first value of a RETURNING statement, filled in when the pipeline is flushed."""

    value: Any = None


@dataclass
class _Write:
    sql: str
    params: dict[str, Any]
    expected: int | None = None
    what: str = ""
    on_mismatch: Callable[[int], StoreError] | None = None
    slot: Slot | None = None


@dataclass
class Writes:
    """The statements of one transaction with their parameters, built before it starts and
    sent once (`flush`)."""

    _items: list[_Write] = field(default_factory=list)

    def _sql(self, statement: Any) -> str:
        key = id(statement)
        sql = _COMPILED.get(key)
        if sql is None:
            sql = str(statement.compile(dialect=_DIALECT))
            _COMPILED[key] = sql
        return sql

    def execute(self, statement: Any, params: dict[str, Any]) -> None:
        self._items.append(_Write(self._sql(statement), params))

    def expect(self, statement: Any, params: dict[str, Any], expected: int, what: str,
               on_mismatch: Callable[[int], StoreError] | None = None) -> None:
        """A write that must touch exactly `expected` rows, else engine and store disagree."""
        self._items.append(_Write(self._sql(statement), params, expected, what, on_mismatch))

    def returning(self, statement: Any, params: dict[str, Any]) -> Slot:
        slot = Slot()
        self._items.append(_Write(self._sql(statement), params, slot=slot))
        return slot

    def flush(self, conn: Connection) -> None:
        """Send everything queued on `conn` (inside its transaction), then check what each
        statement did."""
        items = self._items
        if not items:
            return
        raw: psycopg.Connection[Any] = conn.connection.driver_connection  # type: ignore[assignment]
        cursors = []
        current = items[0]
        try:
            with raw.pipeline():
                for current in items:
                    cursor = raw.cursor()
                    cursor.execute(current.sql, current.params)
                    cursors.append(cursor)
        except psycopg.errors.IntegrityError as error:
            raise sqlalchemy.exc.IntegrityError(current.sql, current.params, error) from error
        except psycopg.OperationalError as error:
            raise sqlalchemy.exc.OperationalError(current.sql, current.params, error) from error
        for item, cursor in zip(items, cursors, strict=True):
            if item.slot is not None:
                row = cursor.fetchone()
                item.slot.value = row[0] if row else None
            if item.expected is not None and cursor.rowcount != item.expected:
                if item.on_mismatch is not None:
                    raise item.on_mismatch(cursor.rowcount)
                raise InventoryConflictError(
                    f"{item.what}: expected {item.expected} rows, touched {cursor.rowcount}")
