"""Group commit: many independent commands in one write transaction.

Each commit costs a WAL sync on SQLite and an fsync (and a round trip) on
PostgreSQL, and on SQLite only one write transaction runs at a time.  Placing
orders one transaction each made the commit, not the order, the cost of an
`add`.  A batch runs each command in a SAVEPOINT of its own (`db.savepoint`):
a command that fails is rolled back to it, and only its caller sees the error;
the others go on and are committed together, once.  A command that found the
database busy or unreachable (a lock held past the busy timeout) stops the
batch: the commands after it are not run and get that error too, the ones
before it are committed.

The commands see each other's writes in the order given, exactly as if they had
run one after the other: a balance spent by one is spent for the next, a link
taken by one is taken for the next, a request_id claimed by one is a replay for
the next.  Nothing of a batch is durable before its COMMIT, so no caller may be
answered before `run_batch` returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from smmpanel.db import UNAVAILABLE_ERRORS, Database, lost_a_deadlock, retry_deadlocks, savepoint

T = TypeVar("T")

# A batch holds SQLite's write lock (or PostgreSQL's row locks) while it runs;
# bounded, so that the last caller of a full batch still waits only milliseconds.
MAX_BATCH = 256


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """One command's result, or the exception it raised (its savepoint was rolled
    back: it wrote nothing)."""

    value: T | None = None
    error: Exception | None = None


def run_batch(
    db: Database,
    commands: Sequence[Callable[[Session], T]],
    *,
    prepare: Callable[[Session], object] | None = None,
) -> list[Outcome[T]]:
    """Run `commands` in one write transaction, each in its own savepoint, and
    commit once; one Outcome per command, in order.  `prepare` runs first in
    the transaction (outside the savepoints: its failure fails the batch).

    A batch that PostgreSQL chose as a deadlock's victim is rolled back whole
    and run again (db.retry_deadlocks, after a short random pause): a batch
    locks the balances of several accounts, and so does a status sync's
    batch of refunds, each in its own order (seen in the scale-out test).
    Nothing of it was written, so running it again is safe.

    Raises what beginning or committing the transaction raises (then nothing of
    the batch was written, or on PostgreSQL CommitOutcomeUnknown), and a
    command's error when rolling back to its savepoint failed too (the
    connection broke: the transaction is gone, nothing was written)."""
    return retry_deadlocks(lambda: _run_once(db, commands, prepare))


def _run_once(
    db: Database,
    commands: Sequence[Callable[[Session], T]],
    prepare: Callable[[Session], object] | None,
) -> list[Outcome[T]]:
    outcomes: list[Outcome[T]] = []
    with db.write() as session:
        # Begin now (BEGIN IMMEDIATE on SQLite): a database that is locked or
        # unreachable fails the batch once, rather than each command in turn
        # after a busy timeout of its own.
        session.connection()
        if prepare is not None:
            prepare(session)  # e.g. the balances it will change, locked in one order
        unavailable: Exception | None = None
        for command in commands:
            if unavailable is not None:
                # Not run: a lock or the server that one command waited out its
                # busy timeout for would make each of the others wait as long
                # (a lone add answers 503 after one timeout, so does a batch).
                outcomes.append(Outcome(error=unavailable))
                continue
            try:
                with savepoint(session):
                    value = command(session)
            except Exception as error:
                if _connection_lost(error) or not _usable(session):
                    raise  # the transaction is gone with its connection: nothing is written
                if lost_a_deadlock(error):
                    raise  # the whole batch is rolled back, then run again
                outcomes.append(Outcome(error=error))
                if isinstance(error, UNAVAILABLE_ERRORS):
                    unavailable = error
            else:
                outcomes.append(Outcome(value=value))
    return outcomes


def _connection_lost(error: Exception) -> bool:
    """The command's error broke the connection (PostgreSQL restarted, the
    network failed): the transaction went with it, whatever the session says."""
    return isinstance(error, DBAPIError) and error.connection_invalidated


def _usable(session: Session) -> bool:
    """False once the outer transaction can no longer commit (a savepoint
    rollback that failed deactivates it)."""
    if not session.in_transaction():
        return False
    transaction = session.get_transaction()
    return transaction is not None and transaction.is_active
