"""db_bulk.insert_rows stores what `connection.execute(insert(table), rows)`
stores: the same rows inserted both ways, into a table with a column of each
kind the panel's bulk writes use (datetimes, JSON, booleans, big integers, a
StrEnum in a string, NULLs, Python-side defaults), read back as the text the
database holds, are the same."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from smmpanel import db_bulk
from smmpanel.db import Database
from smmpanel.db_bulk import insert_rows
from smmpanel.jobs.models import Job
from smmpanel.timeutil import utcnow
from tests.statements import statements_run

WHEN = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC)


class Colour(StrEnum):
    RED = "red"


_SERIALS = itertools.count()
_METADATA = MetaData()
PROBE = Table(
    "db_bulk_probe",
    _METADATA,
    Column("id", Integer, primary_key=True),
    Column("batch", String(8)),
    Column("at", DateTime(timezone=True), nullable=True),
    Column("doc", JSON, nullable=True),
    Column("flag", Boolean, nullable=True),
    Column("amount", BigInteger, nullable=True),
    Column("colour", String(16), nullable=True),
    Column("note", Text, nullable=True),
    # Left out of the rows: Python-side defaults, a value and callables.
    Column("count", Integer, default=7),
    Column("items", JSON, default=list),
    Column("stamped", DateTime(timezone=True), default=lambda: WHEN),
    Column("serial", Integer, default=lambda: next(_SERIALS)),
    Column("off", Boolean, default=False, server_default=text("false")),
    # Left to the database.
    Column("server_note", Text, server_default=text("'by the server'")),
)

ROWS: list[dict[str, Any]] = [
    {
        "at": WHEN,
        "doc": {"comments": ["a", "é\n"], "n": 1},
        "flag": True,
        "amount": 9_007_199_254_740_993,
        "colour": Colour.RED,
        "note": 'it\'s "quoted" %s %(x)s ?',
    },
    {
        "at": WHEN + timedelta(days=400, microseconds=1),
        "doc": None,  # JSON null, as SQLAlchemy stores it (not SQL NULL)
        "flag": False,
        "amount": -1,
        "colour": None,
        "note": None,
    },
    {"at": None, "doc": [], "flag": None, "amount": None, "colour": "blue", "note": ""},
]


@pytest.fixture
def probe(db: Database) -> Iterator[Database]:
    _METADATA.create_all(db.engine)
    try:
        yield db
    finally:
        _METADATA.drop_all(db.engine)


def _stored(connection: Connection, table: Table, where: Any) -> list[dict[str, Any]]:
    """The rows `where` selects, in the order inserted, each column but the id
    as the text the database holds."""
    columns = [func.cast(c, Text).label(c.name) for c in table.columns if c.name != "id"]
    query = select(*columns).where(where).order_by(table.c.id)
    return [dict(row._mapping) for row in connection.execute(query)]


def _without(rows: list[dict[str, Any]], *names: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in names} for row in rows]


def test_rows_are_stored_as_sqlalchemy_stores_them(probe: Database) -> None:
    with probe.write() as session:
        connection = session.connection()
        connection.execute(insert(PROBE), [{**row, "batch": "core"} for row in ROWS])
        insert_rows(connection, PROBE, [{**row, "batch": "bulk"} for row in ROWS])
    with probe.read() as session:
        core = _stored(session.connection(), PROBE, PROBE.c.batch == "core")
        bulk = _stored(session.connection(), PROBE, PROBE.c.batch == "bulk")
    assert len(bulk) == len(ROWS)
    assert _without(bulk, "batch", "serial") == _without(core, "batch", "serial")
    # The callable default is called once per row, after the three of SQLAlchemy.
    serials = [int(row["serial"]) for row in core + bulk]
    assert serials == list(range(serials[0], serials[0] + 6))
    # The rows left out `count` and `items`, and `server_note` to the server.
    assert {(row["count"], row["items"], row["server_note"]) for row in bulk} == {
        ("7", "[]", "by the server")
    }
    # A JSON null is not SQL NULL; a NULL is.
    assert bulk[1]["doc"] == "null" and bulk[2]["at"] is None and bulk[1]["note"] is None


def test_jobs_rows_are_stored_as_sqlalchemy_stores_them(db: Database) -> None:
    """The jobs table as enqueue_many fills it: created_at (left out) is
    utcnow, called for each row."""
    jobs = cast(Table, Job.__table__)

    def rows(kind: str) -> list[dict[str, Any]]:
        return [
            {
                "kind": kind,
                "payload": {"order_id": n, "note": None},
                "run_at": WHEN,
                "max_attempts": 8,
                "status": "queued",
                "dedupe_key": None if n % 2 else f"{kind}:{n}",
            }
            for n in range(3)
        ]

    before = utcnow()
    with db.write() as session:
        connection = session.connection()
        connection.execute(insert(jobs), rows("core"))
        insert_rows(connection, jobs, rows("bulk"))
    with db.read() as session:
        core = _stored(session.connection(), jobs, jobs.c.kind == "core")
        bulk = _stored(session.connection(), jobs, jobs.c.kind == "bulk")
        created = session.scalars(
            select(jobs.c.created_at).where(jobs.c.kind == "bulk").order_by(jobs.c.id)
        ).all()
    assert len(bulk) == 3
    assert _without(bulk, "kind", "dedupe_key", "created_at") == _without(
        core, "kind", "dedupe_key", "created_at"
    )
    assert [row["dedupe_key"] for row in bulk] == ["bulk:0", None, "bulk:2"]
    assert all(before <= at.replace(tzinfo=UTC) <= utcnow() for at in created)


def test_a_plan_is_compiled_once_per_dialect_table_and_keys(db: Database) -> None:
    jobs = cast(Table, Job.__table__)
    row = {"kind": "k", "payload": {}, "status": "queued", "max_attempts": 1}
    with db.write() as session:
        connection = session.connection()
        insert_rows(connection, jobs, [row])
        insert_rows(connection, jobs, [row, row])
        insert_rows(connection, jobs, [{**row, "dedupe_key": "x"}])
        insert_rows(connection, jobs, [])
        count = connection.execute(select(func.count()).select_from(jobs)).scalar_one()
    assert count == 4
    plans = db_bulk._PLANS[db.engine.dialect]
    assert [keys for table, keys in plans if table is jobs] == [
        ("kind", "payload", "status", "max_attempts"),
        ("kind", "payload", "status", "max_attempts", "dedupe_key"),
    ]


def test_postgresql_copies_the_rows_and_errors_are_sqlalchemys(probe: Database) -> None:
    """On PostgreSQL the rows go by COPY, not by INSERT statements (SQLite:
    one executemany): texts that COPY's format escapes arrive as given, and a
    refused row raises what SQLAlchemy raises for a statement (callers tell
    constraints, deadlocks and lost connections from it), nothing stored."""
    tricky = ["tab\there", "line\nbreak", "back\\slash", "\\N", "", "\r\x1b end"]
    rows = [{"id": 900 + n, "batch": "copy", "note": note} for n, note in enumerate(tricky)]
    with statements_run(probe.engine) as statements, probe.write() as session:
        insert_rows(session.connection(), PROBE, rows)
    inserts = [sql for sql in statements if sql.startswith("INSERT")]
    assert len(inserts) == (1 if probe.is_sqlite else 0)
    with probe.read() as session:
        stored = _stored(session.connection(), PROBE, PROBE.c.batch == "copy")
    assert [row["note"] for row in stored] == tricky
    with pytest.raises(IntegrityError), probe.write() as session:
        insert_rows(session.connection(), PROBE, [{"id": 2000, "batch": "x"}, rows[0]])
    with probe.read() as session:
        assert _stored(session.connection(), PROBE, PROBE.c.batch == "x") == []
