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

With a `Bulk`, commands it can plan (check and price without writing) are not
run one by one: the planned commands in a row are written together by the
Bulk, and a command it cannot plan is run as above after them.  The bulk
write has no savepoint of its own (two round trips each on PostgreSQL):
should it fail, the whole batch is rolled back and run again with every
command one by one, so that the bulk path changes costs, never answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from smmpanel.db import (
    UNAVAILABLE_ERRORS,
    Database,
    error_line,
    lost_a_deadlock,
    retry_deadlocks,
    savepoint,
)

log = logging.getLogger("smmpanel.orders")

T = TypeVar("T")
P = TypeVar("P")

# A batch holds SQLite's write lock (or PostgreSQL's row locks) while it runs;
# bounded, so that the last caller of a full batch still waits only milliseconds.
MAX_BATCH = 256


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """One command's result, or the exception it raised (its savepoint was rolled
    back: it wrote nothing)."""

    value: T | None = None
    error: Exception | None = None


class Bulk(Protocol[P, T]):
    """The fast path of a batch: commands planned, then written together."""

    def plan(self, index: int, session: Session) -> P | None:
        """The plan of command `index` (reading, writing nothing), or None to
        run it whole; raises the command's refusal (it wrote nothing)."""
        ...

    def write(self, session: Session, plans: list[P]) -> list[T | Exception]:
        """Write the commands of `plans`, in order: each one's value or refusal."""
        ...


def run_batch(
    db: Database,
    commands: Sequence[Callable[[Session], T]],
    *,
    prepare: Callable[[Session], object] | None = None,
    bulk: Bulk[P, T] | None = None,
    before_whole: Callable[[Session], object] | None = None,
) -> list[Outcome[T]]:
    """Run `commands` in one write transaction, each in its own savepoint (or
    written together by `bulk` where it plans them), and commit once; one
    Outcome per command, in order.  `prepare` runs first in the transaction
    (outside the savepoints: its failure fails the batch), `before_whole`
    before each command run whole, outside its savepoint (locks it takes
    are not released by the rollback of a command that fails).

    A batch that PostgreSQL chose as a deadlock's victim is rolled back whole
    and run again (db.retry_deadlocks, after a short random pause): a batch
    locks the balances of several accounts, and so does a status sync's
    batch of refunds, each in its own order (seen in the scale-out test).
    Nothing of it was written, so running it again is safe.

    Raises what beginning or committing the transaction raises (then nothing of
    the batch was written, or on PostgreSQL CommitOutcomeUnknown), and a
    command's error when rolling back to its savepoint failed too (the
    connection broke: the transaction is gone, nothing was written)."""

    def run() -> list[Outcome[T]]:
        try:
            return _Run(commands, bulk, before_whole).once(db, prepare)
        except _BulkFailed:
            # Rolled back whole: nothing of it was written.
            return _Run(commands, None, before_whole).once(db, prepare)

    return retry_deadlocks(run)


class _BulkFailed(Exception):
    """The bulk write failed (a link a concurrent batch of another process took
    meanwhile, or a bug): the batch is run again without it."""


class _Run(Generic[P, T]):
    """One run of a batch in one transaction (a new one for each attempt)."""

    def __init__(
        self,
        commands: Sequence[Callable[[Session], T]],
        bulk: Bulk[P, T] | None,
        before_whole: Callable[[Session], object] | None,
    ):
        self.commands = commands
        self.bulk = bulk
        self.before_whole = before_whole
        self.outcomes: list[Outcome[T] | None] = [None] * len(commands)
        self.planned: list[tuple[int, P]] = []
        # A lock or the server that one command waited out its busy timeout for
        # would make each of the others wait as long (a lone add answers 503
        # after one timeout, so does a batch): the commands after it are not run.
        self.unavailable: Exception | None = None

    def once(self, db: Database, prepare: Callable[[Session], object] | None) -> list[Outcome[T]]:
        with db.write() as session:
            # Begin now (BEGIN IMMEDIATE on SQLite): a database that is locked or
            # unreachable fails the batch once, rather than each command in turn
            # after a busy timeout of its own.
            session.connection()
            if prepare is not None:
                prepare(session)  # e.g. the balances it will change, locked in one order
            for index in range(len(self.commands)):
                if self.unavailable is None and self._planned(index, session):
                    continue
                self._write_planned(session)
                self._run_whole(index, session)
            self._write_planned(session)
        return [outcome or Outcome(error=self.unavailable) for outcome in self.outcomes]

    def _planned(self, index: int, session: Session) -> bool:
        """Whether command `index` was planned for the bulk write, or refused
        by its plan (it wrote nothing: no savepoint is needed)."""
        if self.bulk is None:
            return False
        try:
            plan = self.bulk.plan(index, session)
        except Exception as error:
            self._failed(index, error, session)
            return True
        if plan is None:
            return False
        self.planned.append((index, plan))
        return True

    def _write_planned(self, session: Session) -> None:
        """Write the commands planned so far, together."""
        planned, self.planned = self.planned, []
        if not planned or self.bulk is None:
            return
        try:
            results = self.bulk.write(session, [plan for _, plan in planned])
        except Exception as error:
            if _connection_lost(error) or lost_a_deadlock(error):
                raise
            if isinstance(error, UNAVAILABLE_ERRORS):
                raise  # the batch fails whole: each caller is answered 503
            log.debug("bulk write failed, the batch runs again one by one: %s", error_line(error))
            raise _BulkFailed from error
        for (index, _), result in zip(planned, results, strict=True):
            if isinstance(result, Exception):
                self.outcomes[index] = Outcome(error=result)
            else:
                self.outcomes[index] = Outcome(value=result)

    def _run_whole(self, index: int, session: Session) -> None:
        if self.unavailable is not None:
            return  # not run: answered with that error
        try:
            if self.before_whole is not None:
                self.before_whole(session)
            with savepoint(session):
                value = self.commands[index](session)
        except Exception as error:
            self._failed(index, error, session)
        else:
            self.outcomes[index] = Outcome(value=value)

    def _failed(self, index: int, error: Exception, session: Session) -> None:
        if _connection_lost(error) or not _usable(session):
            raise error  # the transaction is gone with its connection: nothing is written
        if lost_a_deadlock(error):
            raise error  # the whole batch is rolled back, then run again
        self.outcomes[index] = Outcome(error=error)
        if isinstance(error, UNAVAILABLE_ERRORS):
            self.unavailable = error


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
