"""Writers of one SQLite database take turns on a lock file, not on SQLite's
busy handler.

SQLite lets one write transaction run at a time; a writer that finds the
lock taken sleeps in its busy handler 1, 2, 5, 10, 15, 20, 25... ms between
tries, whatever the holder's progress.  With two `serve` processes placing
orders, a batch lasts a few milliseconds, so the other process slept longer
than the batch it waited for, and 2 processes placed no more orders than one
(docs/benchmarks.md, "SQLite writers take turns").  Here each write
transaction first takes an exclusive `flock` on `<database>-writers`, tried
every TURN_POLL_SECONDS: the next writer starts within a fraction of a
millisecond of the last one's COMMIT.  The kernel drops the lock of a process
that dies, so a crash never leaves it held.  The wait is bounded by the
database's busy timeout, as SQLite's own is: past it, the write fails as a
locked database does (a 503 in the API).

A separate file, never the database: `flock` and SQLite's POSIX locks are
independent on Linux and macOS, but closing any descriptor of the database
file would drop SQLite's own locks of the process.  Where the lock file
cannot be opened (another user's, a read-only directory) writers go on
without turns, as before.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc

log = logging.getLogger("smmpanel.db")

TURN_POLL_SECONDS = 0.0002


class _Holder:
    """One thread's descriptor of the lock file (a lock belongs to an open
    file, so threads exclude each other as processes do) and how deep it is in
    nested turns."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.depth = 0

    def __del__(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


class WriterTurns:
    """The turns of the writers of the SQLite database at `database_path`."""

    def __init__(self, database_path: str, busy_timeout: float) -> None:
        self.path = f"{database_path}-writers"
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._unusable = False

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the writers' turn for the block (re-entered by the same thread
        without waiting)."""
        holder = self._holder()
        if holder is None:
            yield
            return
        if holder.depth == 0:
            self._acquire(holder.fd)
        holder.depth += 1
        try:
            yield
        finally:
            holder.depth -= 1
            if holder.depth == 0:
                fcntl.flock(holder.fd, fcntl.LOCK_UN)

    def _holder(self) -> _Holder | None:
        holder: _Holder | None = getattr(self._local, "holder", None)
        if holder is not None or self._unusable:
            return holder
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            self._unusable = True
            log.warning("writers of %s go without turns: %s", self.path, error)
            return None
        holder = self._local.holder = _Holder(fd)
        return holder

    def _acquire(self, fd: int) -> None:
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as error:
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() >= deadline:
                raise exc.OperationalError(
                    "BEGIN IMMEDIATE",
                    None,
                    sqlite3.OperationalError("database is locked (another writer's turn)"),
                )
            time.sleep(TURN_POLL_SECONDS)
