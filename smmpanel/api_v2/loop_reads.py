"""Short reads answered on the event loop, without the hop to a thread (SQLite).

`balance`, `status` and a kept `services` answer cost ~100-300 us of database
work on SQLite; the hop to a worker thread and back cost as much again, and
more under load (bench/bench_read_hop.py and bench/bench_api.py, measured in
docs/benchmarks.md, "Cheap reads").  So on SQLite they run on the loop.

A read on the loop must never wait: it holds up every other request of the
process meanwhile.  Its connections (an engine of their own) have a busy
timeout of 0, so a database that would make it wait answers "busy" at once,
and the call then goes the usual way, through the read gate to a thread that
waits up to the API's busy timeout (and answers 503 past it).  In WAL mode a
read waits only for a database in recovery or opened exclusively, so that is
rare.  A `services` answer not kept yet, whose list may take milliseconds,
is left to a thread too.

`balance` and a kept `services` answer are one statement each (the key check
and what it reads besides); the loop runs them on a plain `sqlite3`
connection of its own, compiled once: ~10 us a call against ~200 us through
SQLAlchemy's engine (measured in docs/benchmarks.md).  Outside a transaction
each statement reads one snapshot of its own, as the statements are built to.
`status` is two (the key, then the orders), read in one transaction on that
connection; an answer with a subscription among its orders (whose charge is
the sum of its posts) is left to a thread.

On PostgreSQL a read is a network round trip, which a plain blocking call
would wait for on the loop: there the loop awaits the same reads on async
connections instead (loop_reads_pg.py).
"""

from __future__ import annotations

import logging
import sqlite3
from collections import namedtuple
from typing import Any

from sqlalchemy import Dialect, Select
from sqlalchemy.engine import make_url
from starlette.responses import Response

from smmpanel.accounts.queries import KEY_AND_BALANCE, key_check_with, key_digest, principal_of
from smmpanel.api_v2 import answers
from smmpanel.api_v2.actions import balance_answer, cache_key, status_answer
from smmpanel.api_v2.answers import JSONAnswer
from smmpanel.api_v2.errors import error_body
from smmpanel.api_v2.params import text_param
from smmpanel.api_v2.services_cache import services_cache, share_cache
from smmpanel.catalog.version import KEY_AND_CATALOG, caller_and_catalog_of
from smmpanel.db import UNAVAILABLE_ERRORS, Database
from smmpanel.errors import DomainError
from smmpanel.orders.statuses import STATUSES_STATEMENT, OrderStatus, costed_by_posts

log = logging.getLogger("smmpanel.api")
# What sends a call from the loop to a thread: the database busy, or in trouble
# (the thread's answer is then the usual 503, or the usual answer).
FALL_BACK: tuple[type[Exception], ...] = (*UNAVAILABLE_ERRORS, sqlite3.Error)


def sqlite_file(url: str) -> str:
    database = make_url(url).database
    if not database:
        raise ValueError(f"not an SQLite file: {url}")
    return database


class OneStatement:
    """A statement compiled once for SQLite, run on a plain sqlite3 connection;
    its rows with their columns by name, as SQLAlchemy's."""

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.params = list(compiled.positiontup or [])
        self.fixed = dict(compiled.params)  # the statement's own values (`id = 1`)
        self.row: Any = namedtuple("Row", [c.key for c in statement.selected_columns])  # type: ignore[misc]

    def first(self, connection: sqlite3.Connection, **values: Any) -> Any:
        given = {**self.fixed, **values}
        found = connection.execute(self.sql, [given[p] for p in self.params]).fetchone()
        return None if found is None else self.row._make(found)


class StatusesStatement:
    """orders.statuses' statement for SQLite's plain connection, compiled once
    per number of ids (a status asks for 1 to 100)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        # By number of ids: the SQL, and where the account's id goes among them.
        self._compiled: dict[int, tuple[str, int]] = {}

    def rows(
        self, connection: sqlite3.Connection, ids: list[int], *, account_id: int
    ) -> dict[int, OrderStatus]:
        unique = sorted(set(ids))
        if not unique:
            return {}
        sql, at = self._compiled.get(len(unique)) or self._compile(len(unique))
        values = [*unique[:at], account_id, *unique[at:]]
        new = tuple.__new__  # OrderStatus._make without its length check (7 columns)
        return {row[0]: new(OrderStatus, row) for row in connection.execute(sql, values)}

    def _compile(self, count: int) -> tuple[str, int]:
        statement = STATUSES_STATEMENT.params(ids=list(range(count)), account_id=0)
        compiled = statement.compile(
            dialect=self.dialect, compile_kwargs={"render_postcompile": True}
        )
        names = list(compiled.positiontup or [])
        at = names.index("account_id")
        # The ids in their order, the account's id once among them.
        assert names[:at] + names[at + 1 :] == [f"ids_{n}" for n in range(1, count + 1)], names
        self._compiled[count] = found = (str(compiled), at)
        return found


class LoopReads:
    """The loop's own connections to an SQLite database, never waiting for a lock."""

    def __init__(self, db: Database) -> None:
        self.db = Database(db.url, busy_timeout=0)
        share_cache(db, self.db)
        dialect = self.db.engine.dialect
        self._balance = OneStatement(KEY_AND_BALANCE, dialect)
        self._services = OneStatement(KEY_AND_CATALOG, dialect)
        self._raw: sqlite3.Connection | None = None
        self._key = OneStatement(key_check_with(), dialect)
        self._statuses = StatusesStatement(dialect)
        self._actions = {"balance": self.balance, "status": self.status, "services": self.services}

    def answer(self, name: str, params: dict[str, Any]) -> Response | None:
        """The answer of action `name`, or None when it must go to a thread (not
        one of these, the database busy, or a `services` list not kept)."""
        action = self._actions.get(name)
        if action is None:
            return None
        try:
            found = action(self.db, key_digest(text_param(params, "key")), params)
        except DomainError as exc:
            return JSONAnswer(error_body(exc))
        except FALL_BACK:
            return None  # a thread may wait for it, within the busy timeout
        except Exception:
            log.exception("unhandled error in /api/v2 (action %r)", name)
            return answers.server_error()
        return None if found is None else JSONAnswer(found)

    def balance(self, db: Database, digest: str, params: dict[str, Any]) -> Any:
        row = self._balance.first(self._connection(), digest=digest)
        who = principal_of(row, digest)
        return balance_answer(int(row.balance), who.currency)

    def status(self, db: Database, digest: str, params: dict[str, Any]) -> Any:
        """`status` read in one transaction of the loop's connection; None (to a
        thread) when a subscription is among the orders asked for."""
        connection = self._connection()
        connection.execute("BEGIN")
        try:
            who = principal_of(self._key.first(connection, digest=digest), digest)
            subscription = False

            def find(ids: list[int]) -> dict[int, OrderStatus]:
                nonlocal subscription
                found = self._statuses.rows(connection, ids, account_id=who.account_id)
                subscription = costed_by_posts(found)
                return found

            answer = status_answer(find, params)
        finally:
            connection.execute("COMMIT")
        return None if subscription else answer

    def services(self, db: Database, digest: str, params: dict[str, Any]) -> Any:
        row = self._services.first(self._connection(), digest=digest)
        who, state = caller_and_catalog_of(row, digest)
        return services_cache(db).get(state.version, cache_key(who, state))

    def _connection(self) -> sqlite3.Connection:
        """One connection, used by the loop's thread alone (made in another)."""
        if self._raw is None:
            path = sqlite_file(self.db.url)
            uri = str(make_url(self.db.url).query.get("uri", "")).lower() == "true"
            self._raw = sqlite3.connect(
                path, timeout=0, isolation_level=None, check_same_thread=False, uri=uri
            )
            self._raw.execute("PRAGMA busy_timeout=0")
        return self._raw
