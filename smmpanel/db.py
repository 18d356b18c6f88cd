"""Engine and transactions.

Every write transaction on SQLite starts with ``BEGIN IMMEDIATE``: a deferred
transaction that reads and then writes fails at once with "database is locked"
when another writer holds the lock, whatever the busy timeout (measured: it
cannot wait for the lock, since waiting could deadlock two writers that both
hold a read snapshot).  Reads use a plain deferred ``BEGIN`` so they never queue
behind writers in WAL mode.

Waiting is bounded by ``busy_timeout``: for a lock (SQLite's busy timeout,
PostgreSQL's lock_timeout), for a pooled connection and for a new one
(PostgreSQL's connect timeout).  The API uses a few seconds
(SMMPANEL_DB_BUSY_TIMEOUT_SECONDS); the worker and the admin command line,
which nobody waits on interactively, the default 30.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from smmpanel.sqlite_turns import WriterTurns

log = logging.getLogger("smmpanel.db")

DEFAULT_BUSY_TIMEOUT = 30.0
# Reads that tolerate lag skip a replica that could not be reached for this long.
REPLICA_RETRY_SECONDS = 5.0
# libpq ignores connect timeouts below 2 seconds.
MIN_CONNECT_TIMEOUT = 2

# What a busy, full, read-only or unreachable database raises: nothing was done
# (the transaction was rolled back, or never began), and trying again later may work.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    exc.OperationalError,
    exc.InterfaceError,
    exc.TimeoutError,  # no pooled connection came free in time
)


# SQLSTATEs of PostgreSQL failing a statement to break a deadlock, or a
# serialization conflict: its transaction did nothing and may simply run again.
RETRY_SQLSTATES = frozenset({"40P01", "40001"})
DEADLOCK_ATTEMPTS = 3

T = TypeVar("T")


def error_line(error: BaseException) -> str:
    """The driver's message of a database error, first line only, for a log
    line: SQLAlchemy's own adds the statement and its parameters, which have no
    place there."""
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__


def lost_a_deadlock(error: BaseException) -> bool:
    """Whether `error` is PostgreSQL failing the statement to break a deadlock
    (or a serialization conflict)."""
    return isinstance(error, exc.DBAPIError) and (
        getattr(error.orig, "sqlstate", None) in RETRY_SQLSTATES
    )


def retry_deadlocks(work: Callable[[], T], *, attempts: int = DEADLOCK_ATTEMPTS) -> T:
    """`work()` (which runs whole transactions of its own), run again after a
    short random pause when PostgreSQL chose one of its transactions as a
    deadlock's victim: transactions that lock several accounts or orders, each
    in its own order, can wait on each other (seen in the scale-out test
    between add batches and status-sync batches).  The victim's transaction was
    rolled back whole, so running it again is safe."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except exc.DBAPIError as error:
            if attempt == attempts or not lost_a_deadlock(error):
                raise
        time.sleep(random.uniform(0.005, 0.05) * attempt)
    raise AssertionError("unreachable")


class CommitOutcomeUnknown(exc.OperationalError):
    """The connection to PostgreSQL failed while COMMIT was on its way: the
    transaction may or may not have been committed."""


class TransactionDoomed(RuntimeError):
    """A command that joined the caller's transaction failed, and the caller went
    on as if it had not: what the command wrote before it failed is in the
    transaction, so the transaction is rolled back, never committed."""


# Session.info keys: a session of `Database.write` (one a command may join), and
# why its transaction must be rolled back (a joined command failed).
_WRITER = "smmpanel.writer"
_DOOMED = "smmpanel.transaction_doomed"


# Named constraints, so that Alembic's batch mode can alter them on SQLite.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _normalise_url(url: str) -> str:
    """Let owners write ``postgresql://`` and still get psycopg 3."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _install_sqlite_hooks(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # The driver must not open transactions itself; we issue BEGIN below.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


# A pooled PostgreSQL connection idle longer than this is pinged before use.
# SQLAlchemy's pre-ping pings at every checkout: a round trip that cost a third
# of a `balance` call (in-process 2,780 -> 4,020 calls/s without it, measured).
# A connection in steady use is not pinged; one that broke while in use is
# found by its error, and SQLAlchemy then drops every pooled connection.
PING_AFTER_IDLE_SECONDS = 1.0
_LAST_USED = "smmpanel.last_used"


def _plain_savepoints(engine: Engine) -> None:
    """SAVEPOINT, RELEASE and ROLLBACK TO as plain SQL: SQLAlchemy compiles its
    savepoint clauses anew at each use (~15 us each, measured), and a batch of
    the group commit runs two of them per order.  The names are its own
    (`sa_savepoint_N`), formatted by the dialect as it would."""
    dialect = engine.dialect
    name_of = dialect.identifier_preparer.quote

    def savepoint(connection: Connection, name: str) -> None:
        connection.exec_driver_sql(f"SAVEPOINT {name_of(name)}")

    def release(connection: Connection, name: str) -> None:
        connection.exec_driver_sql(f"RELEASE SAVEPOINT {name_of(name)}")

    def rollback_to(connection: Connection, name: str) -> None:
        connection.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {name_of(name)}")

    # On this engine's dialect alone (an instance attribute shadows the method).
    setattr(dialect, "do_savepoint", savepoint)  # noqa: B010
    setattr(dialect, "do_release_savepoint", release)  # noqa: B010
    setattr(dialect, "do_rollback_to_savepoint", rollback_to)  # noqa: B010


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get(_LAST_USED)
        if last is None or time.monotonic() - last < PING_AFTER_IDLE_SECONDS:
            return  # new, or in steady use
        try:
            dbapi_conn.execute("SELECT 1")
            if dbapi_conn.info.transaction_status != 0:  # not idle: end the ping's transaction
                dbapi_conn.rollback()
        except Exception as error:
            # The pool discards this connection and checks out another (a new one).
            raise exc.DisconnectionError(str(error)[:200]) from error


def _create_private_file(path: str) -> None:
    """Create a missing SQLite file readable by its owner alone (0600): it holds
    balances and encrypted secrets.  SQLite gives its -wal and -shm files the
    mode of the database file."""
    if path.startswith("file:") or os.path.exists(path):
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # another process created it first
    except OSError:
        pass  # a missing directory: SQLite's own error says it better


def _postgres_timeouts(parsed: URL, busy_timeout: float) -> dict[str, Any]:
    """libpq's connect timeout and the server's lock_timeout (added to any
    `options` the URL gives)."""
    lock_timeout = f"-c lock_timeout={max(1, round(busy_timeout * 1000))}"
    given = parsed.query.get("options")
    return {
        "connect_timeout": max(MIN_CONNECT_TIMEOUT, math.ceil(busy_timeout)),
        "options": f"{given} {lock_timeout}" if isinstance(given, str) else lock_timeout,
    }


class Database:
    """One engine, with a session factory for writes and one for reads; and,
    given PostgreSQL replicas, readers for what may lag (`read_lagging`)."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        replica_urls: Sequence[str] = (),
        fresh_seconds: float = 5.0,
    ) -> None:
        """`busy_timeout`: seconds a transaction may wait for a lock or a connection.
        `replica_urls`: PostgreSQL streaming replicas of `url` for the reads that
        tolerate a little lag; rows younger than `fresh_seconds` are read from
        the primary all the same (`fresh_seconds` is for the callers to apply)."""
        self.url = _normalise_url(url)
        self.busy_timeout = busy_timeout
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout}
            if parsed.database in (None, "", ":memory:"):
                raise ValueError("use a file database for SQLite; WAL needs a file")
            _create_private_file(parsed.database)
        else:
            # A connection broken by a restart or an outage is replaced, not handed
            # out, so the panel recovers by itself when the server is back: pinged
            # when it comes out of the pool after an idle spell (_ping_when_idle).
            kwargs.update(pool_size=10, max_overflow=20)
            kwargs.update(
                pool_timeout=busy_timeout, connect_args=_postgres_timeouts(parsed, busy_timeout)
            )
        self.engine = create_engine(self.url, **kwargs)
        _plain_savepoints(self.engine)
        if not self.is_sqlite:
            _ping_when_idle(self.engine)
        reader: Engine = self.engine
        self._turns: WriterTurns | None = None
        if self.is_sqlite:
            path = parsed.database or ""
            if not path.startswith("file:"):  # a URI filename: no lock file beside it
                self._turns = WriterTurns(path, busy_timeout)
            _install_sqlite_hooks(self.engine, round(busy_timeout * 1000))
            reader = self.engine.execution_options(sqlite_begin="DEFERRED")
        self._writer = sessionmaker(self.engine, expire_on_commit=False, info={_WRITER: True})
        self._reader = sessionmaker(reader, expire_on_commit=False)
        self._reader_engine = reader
        self.fresh_seconds = fresh_seconds
        self.replicas = self._replicas_of(replica_urls, echo)
        self._lagging: Database = _LaggingView(self) if self.replicas else self

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed on success, rolled back on any error.
        Raises CommitOutcomeUnknown when PostgreSQL's connection fails during the
        COMMIT itself (an error before it means that nothing was written), and
        TransactionDoomed when a command that joined it failed and the caller
        carried on (see `transaction`)."""
        with self._writer() as session, self.writer_turn():
            session.begin()
            try:
                yield session
                if session.info.get(_DOOMED):
                    raise TransactionDoomed(session.info[_DOOMED])
                session.flush()
            except BaseException:
                session.rollback()
                raise
            self._commit(session)

    def writer_turn(self) -> AbstractContextManager[None]:
        """On SQLite, the writers' turn (sqlite_turns.py), which `write` holds
        from before BEGIN IMMEDIATE until after COMMIT or ROLLBACK; a thread
        holding it already enters again without waiting.  Nothing to wait
        for on PostgreSQL."""
        return self._turns.turn() if self._turns is not None else nullcontext()

    def _commit(self, session: Session) -> None:
        try:
            session.commit()
        except (exc.OperationalError, exc.InterfaceError) as error:
            # SQLite has committed everything or nothing when COMMIT returns an error.
            if self.is_sqlite:
                raise
            raise CommitOutcomeUnknown(
                error.statement,
                error.params,
                error.orig or error,
                connection_invalidated=error.connection_invalidated,
            ) from error

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session, session.begin():
            yield session

    @contextmanager
    def read_core(self) -> Iterator[Connection]:
        """A read transaction on a Core connection, without an ORM session: for
        the API's hot reads of plain columns (the session's execute and result
        handling cost about a quarter of a `balance` call, measured)."""
        with self._reader_engine.begin() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()
        if self.replicas:
            self.replicas.dispose()

    # --- Reads that tolerate a little lag: on a replica when there is one ---

    def _replicas_of(self, urls: Sequence[str], echo: bool) -> ReplicaSet | None:
        urls = [_normalise_url(u.strip()) for u in urls if u.strip()]
        if not urls:
            return None
        if self.is_sqlite or any(make_url(u).get_backend_name() != "postgresql" for u in urls):
            raise ValueError("read replicas (SMMPANEL_DATABASE_REPLICA_URLS) need PostgreSQL")
        engines = [
            create_engine(
                u,
                echo=echo,
                pool_size=10,
                max_overflow=20,
                pool_pre_ping=True,  # a restarted or stopped replica is noticed at checkout
                pool_timeout=self.busy_timeout,
                connect_args=_postgres_timeouts(make_url(u), self.busy_timeout),
            )
            for u in urls
        ]
        return ReplicaSet(engines)

    def lagging(self) -> Database:
        """This database for code that only reads and tolerates a little lag
        (lists, the catalog): its `read` and `read_core` are `read_lagging` and
        `read_core_lagging`, and it refuses to write.  Without replicas, self."""
        return self._lagging

    @contextmanager
    def read_lagging(self) -> Iterator[Session]:
        """A read transaction on a replica (round robin), else on the primary:
        what it reads may be a little behind the primary's last commits."""
        with (
            self._lagging_connection() as connection,
            Session(bind=connection, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def read_core_lagging(self) -> Iterator[Connection]:
        """`read_core` on a replica (round robin), else on the primary."""
        with self._lagging_connection() as connection, connection.begin():
            yield connection

    @contextmanager
    def _lagging_connection(self) -> Iterator[Connection]:
        connection = self.replicas.connect() if self.replicas else None
        with connection or self._reader_engine.connect() as chosen:
            yield chosen


class _LaggingView(Database):
    """A primary's `lagging()` view: its engines, with reads on the replicas."""

    def __init__(self, primary: Database) -> None:  # shares the primary's engines
        self.__dict__.update(primary.__dict__)
        self._primary = primary
        self._lagging = self

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._primary.read_lagging() as session:
            yield session

    @contextmanager
    def read_core(self) -> Iterator[Connection]:
        with self._primary.read_core_lagging() as connection:
            yield connection

    @contextmanager
    def write(self) -> Iterator[Session]:
        raise RuntimeError("a lagging reader does not write: use the primary Database")
        yield  # pragma: no cover - a generator, for contextmanager

    def dispose(self) -> None:
        self._primary.dispose()


class ReplicaSet:
    """PostgreSQL replicas taken in turn.  One that cannot be reached is skipped
    for REPLICA_RETRY_SECONDS (said in a log line) and its reads go to the next
    replica or, when none answers, to the primary: never an error to the client."""

    def __init__(self, engines: list[Engine]) -> None:
        self.engines = engines
        self._turn = itertools.count()
        self._down_until = [0.0] * len(engines)

    def connect(self) -> Connection | None:
        """A connection to the next replica that answers; None when none does."""
        start = next(self._turn)
        for step in range(len(self.engines)):
            index = (start + step) % len(self.engines)
            if self._down_until[index] > time.monotonic():
                continue
            try:
                return self.engines[index].connect()
            except UNAVAILABLE_ERRORS as error:
                self._mark_down(index, error)
        return None

    def _mark_down(self, index: int, error: Exception) -> None:
        self._down_until[index] = time.monotonic() + REPLICA_RETRY_SECONDS
        log.warning(
            "read replica %s unreachable, reading from the primary or another replica "
            "for %.0f s: %s",
            self.engines[index].url.render_as_string(hide_password=True),
            REPLICA_RETRY_SECONDS,
            error_line(error),
        )

    def dispose(self) -> None:
        for engine in self.engines:
            engine.dispose()


@contextmanager
def transaction(target: Database | Session) -> Iterator[Session]:
    """The write transaction a command runs in: its own, or its caller's.

    Given the Database, a new write transaction (`Database.write`: BEGIN
    IMMEDIATE on SQLite), committed when the block ends.  Given a Session, the
    caller's open transaction, joined: no savepoint, no commit; whoever opened
    it commits or rolls back everything (Django's ``atomic(savepoint=False)``).
    A command that fails inside a joined transaction dooms it: the exception
    goes on to the caller, and should the caller swallow it, the transaction
    is still rolled back (TransactionDoomed), since the command may have
    written half of its work before it failed.
    """
    if isinstance(target, Database):
        with target.write() as session:
            yield session
        return
    if not (target.info.get(_WRITER) and target.in_transaction()):
        # A read transaction would take SQLite's write lock late, and fail at
        # once when another writer holds it (see the top of this module).
        raise RuntimeError("a command joins only an open transaction of Database.write")
    try:
        yield target
    except BaseException as error:
        target.info.setdefault(_DOOMED, f"a joined command failed: {error!r}"[:500])
        raise


@contextmanager
def savepoint(session: Session) -> Iterator[Session]:
    """A SAVEPOINT inside a write transaction, for a batch of independent
    commands committed together (orders/group_commit.py).

    A command that fails inside it is rolled back to the savepoint, so what it
    wrote before failing is gone and the doom mark it set (see `transaction`) no
    longer applies: it is cleared, and the rest of the transaction can commit.
    Should the block swallow a failed command's exception, the savepoint is
    rolled back all the same and TransactionDoomed raised, as `write` would."""
    if not (session.info.get(_WRITER) and session.in_transaction()):
        raise RuntimeError("a savepoint opens only inside a transaction of Database.write")
    if session.info.get(_DOOMED):
        raise TransactionDoomed(session.info[_DOOMED])
    nested = session.begin_nested()
    try:
        yield session
        if session.info.get(_DOOMED):
            raise TransactionDoomed(session.info[_DOOMED])
        session.flush()
    except BaseException:
        nested.rollback()
        session.info.pop(_DOOMED, None)
        raise
    nested.commit()
