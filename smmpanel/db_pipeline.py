"""PostgreSQL: several statements of a transaction sent together, in one
round trip (psycopg's pipeline mode).

Each statement sent alone costs a round trip: on the 2-core machine of
docs/benchmarks.md, ~150 us of the client's CPU (most of it system calls
and wake-ups), ~125 us of the server's and ~300 us of wall time, whatever
the statement does.  A batch of orders made 15 of them.  Statements that do
not depend on each other's results are queued here and sent at once: the
server runs them back to back and the client reads their results as they
come.  Many rows of a table go as ONE INSERT of arrays, a column each, in
binary (db_bulk.plan_values: COPY cannot run in a pipeline).

Errors are raised as SQLAlchemy raises a statement's (db_bulk.driver_error),
and like any statement's error they leave the transaction to roll back.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.rows import namedtuple_row
from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

from smmpanel.db_bulk import driver_error, plan_values


@dataclass(frozen=True)
class Done:
    """What one statement of a pipeline did: its rows (named tuples; none for
    a write) and how many rows it wrote or read."""

    rows: list[Any]
    rowcount: int


@dataclass(frozen=True)
class _Queued:
    sql: str
    params: Any
    prepare: bool | None
    returns_rows: bool


class Pipeline:
    """Statements queued on a PostgreSQL connection, in its transaction, then
    `send`: run in the order queued, the results in that order."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._queued: list[_Queued] = []

    def query(
        self, statement: ClauseElement, params: Mapping[str, Any], *, prepare: bool | None = None
    ) -> int:
        """Queue a read; the index of its result.  `prepare=False`: planned at
        each run, never prepared (psycopg prepares a statement at its 5th)."""
        return self._queue(statement, params, returns_rows=True, prepare=prepare)

    def execute(self, statement: ClauseElement, params: Mapping[str, Any]) -> int:
        """Queue a write; the index of its result (its rowcount)."""
        return self._queue(statement, params, returns_rows=False)

    def insert(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Queue the INSERT of `rows` (each with the keys of the first), their
        values converted as db_bulk.insert_rows converts them.  ValueError for
        a table whose INSERT computes a value in SQL (use insert_rows): it
        cannot go as arrays, and written at once it would not keep its place
        in the queue's order."""
        if not rows:
            return
        sql, arrays = plan_values(self._connection, table, rows)
        if sql is None:
            raise ValueError(f"{table.name}: its INSERT cannot be sent as arrays")
        self._queued.append(_Queued(sql, arrays, None, returns_rows=False))

    def send(self) -> list[Done]:
        """Run the queued statements, in one round trip; their results."""
        queued, self._queued = self._queued, []
        if not queued:
            return []
        driver: Any = self._connection.connection.driver_connection
        error_class = self._connection.dialect.loaded_dbapi.Error
        current = queued[0].sql
        try:
            with driver.pipeline():
                cursors = []
                for item in queued:
                    current = item.sql
                    cursor = driver.cursor(row_factory=namedtuple_row)
                    cursors.append(cursor.execute(item.sql, item.params, prepare=item.prepare))
            return [
                Done(cursor.fetchall() if item.returns_rows else [], cursor.rowcount)
                for item, cursor in zip(queued, cursors, strict=True)
            ]
        except error_class as error:
            raise driver_error(self._connection, error, current) from error

    def _queue(
        self,
        statement: ClauseElement,
        params: Mapping[str, Any],
        *,
        returns_rows: bool,
        prepare: bool | None = None,
    ) -> int:
        sql = _sql_of(self._connection.dialect, statement)
        self._queued.append(_Queued(sql, dict(params), prepare, returns_rows))
        return len(self._queued) - 1


# Statements compiled once per dialect (SQLAlchemy's psycopg dialect writes
# %(name)s placeholders with their casts, which psycopg takes as they are).
_COMPILED: weakref.WeakKeyDictionary[Dialect, dict[ClauseElement, str]] = (
    weakref.WeakKeyDictionary()
)


def _sql_of(dialect: Dialect, statement: ClauseElement) -> str:
    compiled = _COMPILED.get(dialect)
    if compiled is None:
        compiled = _COMPILED[dialect] = {}
    sql = compiled.get(statement)
    if sql is None:
        sql = compiled[statement] = str(statement.compile(dialect=dialect))
    return sql
