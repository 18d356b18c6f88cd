"""Many rows of one table written with one INSERT run by the driver's
executemany (SQLite) or with one COPY (PostgreSQL: `_copy_rows`), their
values converted here.

`connection.execute(insert(table), rows)` stores the same values, but spends
more per row in SQLAlchemy's general machinery (each row's parameters built
from the compiled statement, then every value passed through a lookup of its
bind processor) than the driver spends inserting it: measured on a batch of 32
orders, more than sqlite3's executemany itself (docs/benchmarks.md, "INSERTs
without SQLAlchemy's per-row work").  Here the INSERT is compiled once per
dialect, table and set of columns, each column's bind processor is taken
once from its type, and a row becomes the driver's parameters in one pass.

The values stored are those of `connection.execute(insert(table), rows)`:
the same compiled SQL (with PostgreSQL's casts), the same bind processors
(datetimes, JSON, booleans), and the columns the rows leave out given their
Python-side defaults, a scalar or a callable called for each row.  A callable
default is called without an execution context (SQLAlchemy passes one): the
panel's take none (utcnow, dict, list).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Column, ColumnDefault, Connection, Table, exc, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.types import NullType

# How one value of a row is found: the row's value of its key, or the
# default of a column the row leaves out.
_Source = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class _Plan:
    """An INSERT compiled for one dialect, table and set of row keys, and how
    a row becomes its parameters, in the order of its placeholders."""

    sql: str
    # The placeholders' names (dicts for a named paramstyle), or None (tuples).
    names: tuple[str, ...] | None
    sources: tuple[_Source, ...]
    # (position, bind processor) of the values a processor converts.
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]
    # PostgreSQL's: the same rows by COPY (`_copy_rows`), and by one INSERT
    # of arrays, a column each, for a pipeline (db_pipeline.py).
    copy_sql: str | None = None
    unnest_sql: str | None = None

    def values(self, row: Mapping[str, Any]) -> list[Any]:
        """The row's values converted, in the order of the placeholders."""
        values = [source(row) for source in self.sources]
        for position, process in self.processors:
            values[position] = process(values[position])
        return values

    def parameters(self, row: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = self.values(row)
        if self.names is None:
            return tuple(values)
        return dict(zip(self.names, values, strict=True))


def insert_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT `rows` into `table` in the connection's transaction, as
    `connection.execute(insert(table), rows)` would; every row has the keys
    of the first (column keys), and a column left out gets its default."""
    if not rows:
        return
    plan = _plan_of(connection.dialect, table, tuple(rows[0]))
    if plan.copy_sql is not None:
        _copy_rows(connection, plan, plan.copy_sql, rows)
        return
    parameters = plan.parameters
    connection.exec_driver_sql(plan.sql, [parameters(row) for row in rows])


def _copy_rows(
    connection: Connection, plan: _Plan, copy_sql: str, rows: Sequence[Mapping[str, Any]]
) -> None:
    """PostgreSQL: the rows sent by COPY, in the connection's transaction.
    psycopg's executemany runs one INSERT a row (in a pipeline), ~20 us of
    Python a row; COPY formats them in its C code: 30 rows of orders took
    250-265 us of CPU against 570-635 (measured).  A driver error is raised as
    SQLAlchemy raises it for a statement (callers tell a lost connection, a
    deadlock or a constraint from it), the connection invalidated if lost."""
    values_of = plan.values
    driver = connection.connection.driver_connection
    assert driver is not None
    dbapi = connection.dialect.loaded_dbapi
    try:
        with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(values_of(row))
    except dbapi.Error as error:
        raise driver_error(connection, error, copy_sql) from error


def driver_error(connection: Connection, error: Any, sql: str) -> exc.StatementError:
    """The driver's `error` of a statement sent past SQLAlchemy, as SQLAlchemy
    raises it for its own (callers tell a lost connection, a deadlock or a
    constraint from it; never the parameters), the connection invalidated
    when it was lost."""
    lost = connection.dialect.is_disconnect(error, connection.connection.driver_connection, None)
    if lost:
        connection.invalidate(error)
    return exc.DBAPIError.instance(
        sql,
        None,
        error,
        connection.dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=lost,
        dialect=connection.dialect,
    )


# Plans by dialect (an engine's own: its JSON serializer is part of the bind
# processors), then by table and row keys; a disposed engine's go with it.
_PLANS: weakref.WeakKeyDictionary[Dialect, dict[tuple[Table, tuple[str, ...]], _Plan]] = (
    weakref.WeakKeyDictionary()
)


def _plan_of(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> _Plan:
    plans = _PLANS.get(dialect)
    if plans is None:
        plans = _PLANS[dialect] = {}
    plan = plans.get((table, keys))
    if plan is None:
        plan = plans[(table, keys)] = _compile(dialect, table, keys)
    return plan


def _compile(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> _Plan:
    compiled = insert(table).compile(dialect=dialect, column_keys=list(keys), for_executemany=True)
    defaulted = {column.key for column in compiled.insert_prefetch}
    order = compiled.positiontup if compiled.positional else list(compiled.binds)
    if order is None:
        raise AssertionError("a positional statement without its positions")
    sources: list[_Source] = []
    processors: list[tuple[int, Callable[[Any], Any]]] = []
    for position, name in enumerate(order):
        column = table.c[name]
        if name in keys:
            sources.append(itemgetter(name))
        elif name in defaulted:
            sources.append(_default_of(column))
        else:
            raise ValueError(f"{table.name}.{name}: a parameter neither given nor defaulted")
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((position, process))
    names = None
    if not compiled.positional:
        # The name a placeholder has in the SQL (SQLAlchemy escapes some characters).
        names = tuple(compiled.escaped_bind_names.get(name, name) for name in order)
    copy_sql = unnest_sql = None
    if dialect.name == "postgresql" and names is not None:
        copy_sql = _copy_sql(compiled.string, names)
        if copy_sql is not None:
            unnest_sql = _unnest_sql(dialect, table, compiled.string, order)
    return _Plan(compiled.string, names, tuple(sources), tuple(processors), copy_sql, unnest_sql)


# A value that is only its placeholder, cast to a type: "%(name)s::VARCHAR(16)".
_COPYABLE_VALUE = re.compile(r"%\((\w+)\)s(?:::[A-Z][A-Z ]*(?:\(\d+(?:, ?\d+)?\))?)?")


def _copy_sql(sql: str, names: tuple[str, ...]) -> str | None:
    """`COPY table (columns) FROM STDIN` for psycopg's INSERT of one row
    `sql`: None unless its VALUES are only the named placeholders, one a
    column, in the order of `names` (a value computed in SQL cannot be
    copied)."""
    head, found, row = sql.partition(" VALUES ")
    if not found or not head.startswith("INSERT INTO ") or "%" in head:
        return None
    columns = head[head.find("(") + 1 : head.rfind(")")].split(", ")
    values = row.removeprefix("(").removesuffix(")").split(", ")
    matches = [_COPYABLE_VALUE.fullmatch(value) for value in values]
    found_names = [match.group(1) for match in matches if match is not None]
    if found_names != list(names) or len(columns) != len(names):
        return None
    return "COPY " + head.removeprefix("INSERT INTO ") + " FROM STDIN"


def _unnest_sql(dialect: Dialect, table: Table, sql: str, keys: Sequence[str]) -> str:
    """`INSERT INTO table (columns) SELECT * FROM unnest(%b::TYPE[], ...)`:
    the rows of the one-row INSERT `sql` (whose placeholders are `_copy_sql`'s)
    given as one array a column, sent in binary."""
    head = sql.partition(" VALUES ")[0]
    arrays = ", ".join(f"%b::{_type_name(dialect, table.c[key])}[]" for key in keys)
    return f"{head} SELECT * FROM unnest({arrays})"


def _type_name(dialect: Dialect, column: Column[Any]) -> str:
    """The column's type in SQL; a foreign key's typed like the key it names
    (its own type is SQLAlchemy's NullType until that table is known)."""
    kind = column.type
    if isinstance(kind, NullType) and column.foreign_keys:
        kind = next(iter(column.foreign_keys)).column.type
    return kind.compile(dialect=dialect)


def plan_values(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> tuple[str | None, list[list[Any]]]:
    """PostgreSQL: `rows` (every one with the keys of the first) as the INSERT
    of arrays that writes them, and its arrays, a column each (a column's
    values converted as `insert_rows` converts them); the SQL is None where
    the table's INSERT computes a value in SQL (then use `insert_rows`)."""
    plan = _plan_of(connection.dialect, table, tuple(rows[0]))
    values_of = plan.values
    return plan.unnest_sql, [list(column) for column in zip(*map(values_of, rows), strict=True)]


def _default_of(column: Column[Any]) -> _Source:
    default = column.default
    if isinstance(default, ColumnDefault) and default.is_callable:
        # SQLAlchemy's wrapper of a callable taking no context: called per row.
        call = default.arg
        return lambda row: call(None)
    if isinstance(default, ColumnDefault) and default.is_scalar:
        value = default.arg
        return lambda row: value
    raise ValueError(f"{column}: a default neither a value nor a callable")
