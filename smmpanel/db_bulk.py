"""Many rows of one table written with one INSERT run by the driver's
executemany, their parameters converted here.

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

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Column, ColumnDefault, Connection, Table, insert
from sqlalchemy.engine import Dialect

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

    def parameters(self, row: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = [source(row) for source in self.sources]
        for position, process in self.processors:
            values[position] = process(values[position])
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
    parameters = plan.parameters
    connection.exec_driver_sql(plan.sql, [parameters(row) for row in rows])


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
    return _Plan(compiled.string, names, tuple(sources), tuple(processors))


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
