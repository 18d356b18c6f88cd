"""Short reads answered on the event loop on PostgreSQL, with psycopg's async
connections (SQLite's counterpart: loop_reads.py).

Through a thread, a `balance` call on PostgreSQL spent most of its time not in
the database but around it: the hop to the thread and back, the GIL contended
by the loop and the database threads, and psycopg's synchronous round trip
(docs/benchmarks.md).  A blocking read on the loop is worse still (one call at
a time), so here the loop awaits its reads on a few `psycopg.AsyncConnection`s
of its own, each read one statement compiled once and prepared once per
connection (run on psycopg's libpq layer: loop_pg_conn.py), whose round trip
leaves the loop free for other requests.  Server CPU per `balance` call went
from ~570 to ~250 us (docs/benchmarks.md, "PostgreSQL's short reads on the
event loop").

Calls of one kind that arrive while the connections are busy are coalesced:
ONE statement answers them all (loop_pg_batch.py says when a call may join a
batch, so that a key revoked is refused on the very next call).  `balance`
and a kept `services` answer are the statements of SQLite's loop reads (the
key check and what it reads besides) for every key of the batch at once
(`key_hash = ANY($1)`, a row per key).  `status` is one statement too: the
key check of each key outer-joined to its account's orders among the ids any
call of the batch asks for, so keys and orders are read in one snapshot and
one round trip; each call is answered with its own account's orders among its
own ids, and one with a subscription among them (whose charge is the sum of
its posts) is left to a thread.  Coalesced, a `balance` call cost ~200-300 us
of the server's CPU over HTTP instead of ~310-430, and 9-12 us in-process
instead of 75-83 (docs/benchmarks.md, "PostgreSQL reads coalesced").  With
read replicas only `balance` (always read on the primary) runs here:
`services` and `status` go to a thread, which reads what may lag on a replica
(db.py, `read_lagging`).

Bounded and never in the way: a batch waits for a connection of the pool at
most FREE_WAIT_SECONDS, and runs within the database's busy timeout (the
server's statement_timeout, and the loop's own clock for a server that stops
answering).  Past those, or on any error of the database or its connection,
every call of the batch goes the usual way, to a thread (which waits within
the same bound and answers 503 past it): never a 500, never a hang.  A
connection that failed is dropped with every idle one (a restarted server
broke them all), and the loop leaves its reads to the threads for
REST_SECONDS, then connects anew.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections import deque, namedtuple
from functools import partial
from typing import Any, Protocol

import psycopg
from psycopg import AsyncConnection
from sqlalchemy import ARRAY, Integer, Select, String, and_, any_, bindparam, cast
from sqlalchemy.engine import make_url
from starlette.responses import Response

from smmpanel.accounts.models import Account, ApiKey
from smmpanel.accounts.queries import (
    KEY_AND_BALANCE,
    key_check_where,
    key_check_with,
    key_digest,
    principal_of,
)
from smmpanel.api_v2 import answers
from smmpanel.api_v2.actions import (
    StatusAsk,
    balance_answer,
    cache_key,
    status_answer_of,
    status_ask,
)
from smmpanel.api_v2.answers import JSONAnswer
from smmpanel.api_v2.errors import error_body
from smmpanel.api_v2.loop_pg_batch import Batch, Call, Coalescer
from smmpanel.api_v2.loop_pg_conn import LoopConnection, settle
from smmpanel.api_v2.params import text_param
from smmpanel.api_v2.services_cache import services_cache
from smmpanel.catalog.version import KEY_AND_CATALOG, caller_and_catalog_of
from smmpanel.db import MIN_CONNECT_TIMEOUT, Database, error_line
from smmpanel.errors import DomainError
from smmpanel.orders.models import Order
from smmpanel.orders.statuses import STATUSES_STATEMENT, OrderStatus, costed_by_posts

log = logging.getLogger("smmpanel.api")

# After a failure the loop's reads go to the threads this long, then try again.
REST_SECONDS = 5.0
# How long a read waits for a free connection of the pool before it goes to a
# thread instead (a burst of calls larger than the pool waits its turn briefly).
FREE_WAIT_SECONDS = 0.05


class Reads(Protocol):
    """A kind of read coalesced: its statement over a batch's keys, and each
    call's answer from the statement's rows."""

    statement: PgStatement
    by_key_alone: bool  # a call's answer depends on its key alone (not `ask`)

    def ask(self, params: dict[str, Any]) -> Any:
        """What a call asks besides its key, read as it arrives."""

    def values(self, calls: list[Call]) -> dict[str, Any]:
        """The statement's parameters for these calls."""

    def found(self, rows: list[Any]) -> dict[str, Any]:
        """The statement's rows by key digest."""

    def answer(self, call: Call, found: dict[str, Any]) -> Any:
        """The call's answer; DomainError for a refusal, None: to a thread."""


# The keys of a batch of calls (loop_pg_batch.py), one row per key found.
ANY_DIGEST = ApiKey.key_hash == any_(cast(bindparam("digests"), ARRAY(String)))
# The key check's columns, first in each of its statements' rows.
KEY = len(key_check_with().selected_columns)
# The key check of each key and its account's orders among `ids`, in one
# statement: a row per order found, or one row without an order (its columns
# NULL); none for an unknown key.  The orders' columns are STATUSES_STATEMENT's.
KEYS_AND_STATUSES = key_check_where(ANY_DIGEST, *STATUSES_STATEMENT.selected_columns).outerjoin(
    Order,
    and_(
        Order.account_id == Account.id,
        Order.id == any_(cast(bindparam("ids"), ARRAY(Integer))),
    ),
)


def conninfo_of(db: Database) -> dict[str, Any]:
    """libpq's connection parameters for `db`'s URL (SQLAlchemy's, with its
    driver), with a connect timeout and a statement_timeout of its busy timeout."""
    url = make_url(db.url)
    given = {k: v for k, v in url.query.items() if isinstance(v, str)}
    bound = max(1, round(db.busy_timeout * 1000))
    timeouts = f"-c statement_timeout={bound} -c lock_timeout={bound}"
    params: dict[str, Any] = {
        **given,
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
        "connect_timeout": max(MIN_CONNECT_TIMEOUT, math.ceil(db.busy_timeout)),
        "options": f"{given['options']} {timeouts}" if "options" in given else timeouts,
        "application_name": "smmpanel-loop-reads",
    }
    return {k: v for k, v in params.items() if v is not None}


class PgStatement:
    """A statement compiled once for PostgreSQL, with $n placeholders, run as a
    prepared statement of each connection; its rows' key check columns by name,
    as SQLAlchemy's."""

    def __init__(self, name: str, statement: Select[Any], db: Database, named: int) -> None:
        compiled = statement.compile(dialect=db.engine.dialect)
        order: list[str] = []

        def placeholder(found: re.Match[str]) -> str:
            order.append(found[1])
            return f"${len(order)}"

        self.name = f"smmpanel_loop_{name}".encode()
        self.sql = re.sub(r"%\((\w+)\)s", placeholder, str(compiled)).replace("%%", "%").encode()
        self.order = order
        self.fixed = dict(compiled.params)  # the statement's own values (`id = 1`)
        names = [str(c.key) for c in statement.selected_columns][:named]
        self.row: Any = namedtuple("Row", names)  # type: ignore[misc]

    async def rows(self, connection: LoopConnection, **values: Any) -> list[Any]:
        given = {**self.fixed, **values}
        return await connection.rows(self.name, self.sql, [_text(given[n]) for n in self.order])

    def named(self, row: tuple[Any, ...]) -> Any:
        """A row's first columns by name."""
        return self.row._make(row[: len(self.row._fields)])


def _text(value: object) -> bytes:
    """A parameter in PostgreSQL's text form: a string, an integer or a list of
    either (an array; its strings quoted)."""
    if isinstance(value, list):
        return ("{" + ",".join(_element(v) for v in value) + "}").encode()
    assert isinstance(value, str | int), value
    return str(value).encode()


def _element(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(int(value))  # type: ignore[call-overload]


class BalanceReads:
    """`balance` of many calls: their keys and balances in one statement."""

    by_key_alone = True

    def __init__(self, db: Database) -> None:
        columns = KEY_AND_BALANCE.selected_columns[KEY:]
        self.statement = PgStatement("balance", key_check_where(ANY_DIGEST, *columns), db, KEY + 1)

    def ask(self, params: dict[str, Any]) -> Any:
        return None

    def values(self, calls: list[Call]) -> dict[str, Any]:
        return {"digests": sorted({call.digest for call in calls})}

    def found(self, rows: list[Any]) -> dict[str, Any]:
        return {row[0]: self.statement.named(row) for row in rows}

    def answer(self, call: Call, found: dict[str, Any]) -> Any:
        row = found.get(call.digest)
        who = principal_of(row, call.digest)  # refused unless `row`
        return balance_answer(int(row.balance), who.currency)  # type: ignore[union-attr]


class ServicesReads(BalanceReads):
    """A kept `services` answer of many calls: their keys and the catalog's
    version in one statement; None (to a thread) for a call whose answer is
    not kept."""

    def __init__(self, db: Database) -> None:
        self.db = db
        columns = KEY_AND_CATALOG.selected_columns[KEY:]
        self.statement = PgStatement("services", key_check_where(ANY_DIGEST, *columns), db, KEY + 2)

    def answer(self, call: Call, found: dict[str, Any]) -> Any:
        who, state = caller_and_catalog_of(found.get(call.digest), call.digest)
        return services_cache(self.db).get(state.version, cache_key(who, state))


class StatusReads:
    """`status` of many calls: their keys and their accounts' orders among the
    ids any of them asks for, in one statement; each call is answered with its
    own account's orders among its own ids.  None (to a thread) for a call
    with a subscription among its orders."""

    by_key_alone = False

    def __init__(self, db: Database) -> None:
        self.statement = PgStatement("statuses", KEYS_AND_STATUSES, db, KEY)

    def ask(self, params: dict[str, Any]) -> tuple[StatusAsk, list[int], DomainError | None]:
        """What is asked for (read now) and its ids, and the refusal of a bad
        ask (said after the key check, as a thread does)."""
        try:
            ask = status_ask(params)
        except DomainError as exc:
            return StatusAsk(None, None), [], exc
        return ask, ask.ids, None

    def values(self, calls: list[Call]) -> dict[str, Any]:
        ids: set[int] = set()
        for call in calls:
            ids.update(call.ask[1])
        return {"digests": sorted({call.digest for call in calls}), "ids": sorted(ids)}

    def found(self, rows: list[Any]) -> dict[str, tuple[Any, dict[int, OrderStatus]]]:
        """By key digest: its key check's row, and its account's orders by id."""
        found: dict[str, tuple[Any, dict[int, OrderStatus]]] = {}
        new = tuple.__new__  # OrderStatus._make without its length check
        for row in rows:
            key = found.get(row[0])
            if key is None:
                key = found[row[0]] = (self.statement.named(row), {})
            if row[KEY] is not None:
                key[1][row[KEY]] = new(OrderStatus, row[KEY:])
        return found

    def answer(self, call: Call, found: dict[str, tuple[Any, dict[int, OrderStatus]]]) -> Any:
        key, orders = found.get(call.digest, (None, {}))
        principal_of(key, call.digest)
        ask, ids, refused = call.ask
        if refused is not None:
            raise refused
        mine = {i: orders[i] for i in ids if i in orders}
        if costed_by_posts(mine):
            return None
        return status_answer_of(ask, mine)


def _answer_each(reads: Reads, calls: list[Call], found: dict[str, Any]) -> None:
    """Each call's answer from the statement's rows: its body, an error body for
    a refusal, None (to a thread), or the exception of a bug.  Calls of one key
    of a kind answered by the key alone share one answer (a reseller's client
    polls its balance from many connections at once)."""
    same: dict[str, Any] = {}
    for call in calls:
        if call.digest in same:
            settle(call.answer, same[call.digest])
            continue
        try:
            answer = reads.answer(call, found)
        except DomainError as exc:
            answer = error_body(exc)
        except Exception as exc:  # a bug: this call's answer says so
            if not call.answer.done():
                call.answer.set_exception(exc)
            continue
        if reads.by_key_alone:
            same[call.digest] = answer
        settle(call.answer, answer)


class PgLoopReads:
    """The loop's own async connections to PostgreSQL (at most `size`), and the
    short reads it answers on them, coalesced (loop_pg_batch.py)."""

    def __init__(self, db: Database, *, size: int) -> None:
        self.db = db
        self.size = size
        self.conninfo = conninfo_of(db)
        self.answered = 0  # calls answered here (not by a thread): for the tests
        self._idle: deque[LoopConnection] = deque()
        self._opened = 0  # connections open or being opened
        self._waiters: deque[asyncio.Future[LoopConnection | None]] = deque()
        self._resting_until = 0.0
        self._closed = False
        self._connecting: set[asyncio.Task[None]] = set()
        kinds: dict[str, Reads] = {"balance": BalanceReads(db)}
        if not db.replicas:  # else a thread reads them, on a replica (module doc)
            kinds.update(services=ServicesReads(db), status=StatusReads(db))
        self._kinds = {
            name: (reads, Coalescer(partial(self._run, reads))) for name, reads in kinds.items()
        }

    async def answer(self, name: str, params: dict[str, Any]) -> Response | None:
        """The answer of action `name`, or None when it must go to a thread (not
        one of these, no connection free, the database in trouble, a `services`
        list not kept, a subscription among the orders)."""
        kind = self._kinds.get(name)
        if kind is None or self._resting_until > time.monotonic():
            return None
        reads, coalescer = kind
        try:
            digest = key_digest(text_param(params, "key"))
        except DomainError as exc:
            found: Any = error_body(exc)
        else:
            try:
                found = await coalescer.ask(digest, reads.ask(params))
            except Exception:
                log.exception("unhandled error in /api/v2 (action %r)", name)
                return answers.server_error()
        if found is None:
            return None
        self.answered += 1
        return JSONAnswer(found)

    async def _run(self, reads: Reads, batch: Batch) -> None:
        """Answer a batch's calls by one statement, once a connection is free:
        each its body (an error body for a refusal) or None (to a thread)."""
        connection = await self._take()
        batch.seal()  # the statement is sent now: later calls wait for the next
        if connection is None:
            return  # every call to a thread
        try:
            async with asyncio.timeout(self.db.busy_timeout):
                rows = await reads.statement.rows(connection, **reads.values(batch.calls))
        except (psycopg.Error, TimeoutError) as exc:
            self._failed(connection, exc)
            return  # a thread answers, or says 503 within its bound
        except BaseException:  # a bug, or cancelled: the connection's state is unknown
            self._drop(connection)
            raise
        self._give(connection)
        _answer_each(reads, batch.calls, reads.found(rows))

    # --- The pool: a few connections of the loop's own ---

    async def _take(self) -> LoopConnection | None:
        """An idle connection, waited for briefly; None: none free, to a thread."""
        if self._idle:
            return self._idle.pop()
        if self._opened < self.size and not self._closed:
            self._opened += 1
            task = asyncio.create_task(self._connect())
            self._connecting.add(task)
            task.add_done_callback(self._connecting.discard)
        # Waiters are served in turn: a connection given back goes to the first.
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[LoopConnection | None] = loop.create_future()
        self._waiters.append(waiter)
        expiry = loop.call_later(FREE_WAIT_SECONDS, settle, waiter, None)
        try:
            return await waiter
        except asyncio.CancelledError:
            given = waiter.result() if waiter.done() and not waiter.cancelled() else None
            if given is not None:
                self._give(given)  # given just as the call was cancelled
            raise
        finally:
            expiry.cancel()

    async def _connect(self) -> None:
        try:
            opened = await AsyncConnection.connect(autocommit=True, **self.conninfo)
        except (psycopg.Error, OSError) as exc:
            self._opened -= 1
            self._rest(exc)
            return
        if self._closed:
            self._opened -= 1
            await opened.close()
            return
        self._give(LoopConnection(opened))

    def _give(self, connection: LoopConnection) -> None:
        """Back to the pool, unless it is no longer idle and sound (or the pool
        is closed: a read that ended after the app's shutdown)."""
        if self._closed or not connection.idle:
            self._drop(connection)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.append(connection)

    def _drop(self, connection: LoopConnection) -> None:
        self._opened -= 1
        connection.drop()

    def _failed(self, connection: LoopConnection, error: BaseException) -> None:
        """A connection that failed, and every idle one, dropped; the loop rests."""
        self._drop(connection)
        while self._idle:
            self._drop(self._idle.pop())
        while self._waiters:  # to a thread, at once
            settle(self._waiters.popleft(), None)
        self._rest(error)

    def _rest(self, error: BaseException) -> None:
        if self._resting_until <= time.monotonic():  # logged once per rest
            log.warning(
                "PostgreSQL reads on the event loop failed, leaving them to threads for %g s: %s",
                REST_SECONDS,
                error_line(error),
            )
        self._resting_until = time.monotonic() + REST_SECONDS

    async def aclose(self) -> None:
        """Close every connection (at the app's shutdown)."""
        self._closed = True
        for _, coalescer in self._kinds.values():
            coalescer.cancel()
        for task in list(self._connecting):
            task.cancel()
        while self._idle:
            connection = self._idle.pop()
            self._opened -= 1
            await connection.connection.close()
