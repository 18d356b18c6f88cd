"""SQLite's writers take turns on a lock file beside the database
(smmpanel/sqlite_turns.py): a writer of another process holding the turn
keeps every write out, for no longer than the busy timeout, and never a
read; the turn is dropped at COMMIT or ROLLBACK and by a process that ends."""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import exc, func, select

from smmpanel.accounts.models import Account
from smmpanel.db import Database
from smmpanel.sqlite_turns import WriterTurns
from tests.factories import make_customer

# A process that takes the writers' turn, says so, and holds it until its
# input closes (or it is killed).
HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def short_db(sqlite_db: Database) -> Iterator[Database]:
    """The test's SQLite database with a busy timeout of 0.3 s."""
    database = Database(sqlite_db.url, busy_timeout=0.3)
    yield database
    database.dispose()


@pytest.fixture
def other_writer(short_db: Database) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the writers' turn of the database."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, _lock_path(short_db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    yield holder
    holder.kill()
    holder.wait(10)


def _lock_path(db: Database) -> str:
    database = db.engine.url.database
    assert database is not None
    return f"{database}-writers"


def _accounts(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Account)) or 0


def _turn_is_free(path: str) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_the_lock_file_is_the_owners_alone(short_db: Database) -> None:
    make_customer(short_db)
    mode = os.stat(_lock_path(short_db)).st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_a_write_waits_for_another_process_turn_then_fails_as_locked(
    short_db: Database, other_writer: subprocess.Popen[str]
) -> None:
    before = _accounts(short_db)
    with pytest.raises(exc.OperationalError, match="database is locked"):
        make_customer(short_db)
    assert _accounts(short_db) == before  # reads never wait for a turn


def test_a_write_goes_on_once_the_other_process_ends(
    short_db: Database, other_writer: subprocess.Popen[str]
) -> None:
    before = _accounts(short_db)
    other_writer.kill()  # the kernel drops a dead process's lock
    other_writer.wait(10)
    make_customer(short_db)
    assert _accounts(short_db) == before + 1


def test_the_turn_is_held_through_the_transaction_and_dropped_after(short_db: Database) -> None:
    make_customer(short_db)  # the lock file exists
    path = _lock_path(short_db)
    with short_db.write() as session:
        session.connection()
        assert not _turn_is_free(path)
    assert _turn_is_free(path)
    with pytest.raises(RuntimeError), short_db.write() as session:
        session.connection()
        raise RuntimeError("rolled back")
    assert _turn_is_free(path)


def test_threads_of_one_process_take_turns_too(short_db: Database) -> None:
    """Each thread locks through a descriptor of its own: another thread's
    write waits (here past the busy timeout) while one holds the turn."""
    make_customer(short_db)
    failures: list[BaseException] = []

    def write() -> None:
        try:
            with short_db.write() as session:
                session.connection()
        except exc.OperationalError as error:
            failures.append(error)

    with short_db.write() as session:
        session.connection()
        other = threading.Thread(target=write)
        other.start()
        other.join(10)
    assert len(failures) == 1 and "another writer's turn" in str(failures[0])


def test_a_thread_reenters_its_own_turn(tmp_path: Path) -> None:
    turns = WriterTurns(str(tmp_path / "x.db"), busy_timeout=0.3)
    path = str(tmp_path / "x.db-writers")
    with turns.turn():
        with turns.turn():
            assert not _turn_is_free(path)
        assert not _turn_is_free(path)  # the outer turn still holds it
    assert _turn_is_free(path)


def test_without_a_usable_lock_file_writers_go_on(short_db: Database, tmp_path: Path) -> None:
    database = tmp_path / "elsewhere.db"
    (tmp_path / "elsewhere.db-writers").mkdir()  # cannot be opened as a file
    db = Database(f"sqlite:///{database}", busy_timeout=0.3)
    try:
        turns = WriterTurns(str(database), busy_timeout=0.3)
        with turns.turn():
            pass  # no lock, no error
        with db.write() as session:
            session.connection()
    finally:
        db.dispose()
