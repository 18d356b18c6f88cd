"""A database held by another writer: writes answer 503 with nothing done within
the API's bound, reads keep answering meanwhile, and all is well once the lock
goes.  (Outages and full disks: tests/faults/.)"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from smmpanel.api_v2.app import create_app
from smmpanel.cli.common import sqlite_path
from smmpanel.db import Database
from smmpanel.server import free_port, serve_in_thread
from tests.api.helpers import ENDPOINT, assert_ledger_consistent, balance_text
from tests.e2e.processes import process, smmpanel_env, wait_http
from tests.factories import Customer, make_customer, make_service

BUSY = 1.0  # the API's database wait in these tests (default 3 s)
# Waiting for a gate, then for the database: at most twice the wait, plus slack
# for two shared cores.
BOUND = 2 * BUSY + 1.5


@contextmanager
def write_lock_held(db: Database, customer: Customer) -> Iterator[None]:
    """Another client holds the lock an order needs: SQLite's write lock, or
    PostgreSQL's row lock of the account."""
    if db.is_sqlite:
        other = sqlite3.connect(str(sqlite_path(db.url)), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    with db.engine.connect() as connection, connection.begin():
        connection.execute(
            text("SELECT id FROM accounts WHERE id = :id FOR UPDATE"), {"id": customer.id}
        )
        yield


def _timed(client: httpx.Client, body: dict[str, Any]) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = client.post(ENDPOINT, data=body)
    return time.monotonic() - started, response


def test_a_held_lock_answers_503_in_time_and_reads_go_on(db: Database) -> None:
    """add used to wait 30 s and answer 500, and balance calls queued behind it."""
    make_service(db, min_quantity=1)
    alice = make_customer(db)
    # Writers wait twice the module's BUSY here, so that a read queued behind one
    # of them (it would take `busy`) stands apart from a read slowed down by a
    # loaded machine (up to 0.83 s seen in CI).
    busy = 2 * BUSY
    api_db = Database(db.url, busy_timeout=busy)
    adds = [
        {"key": alice.key, "action": "add", "service": 1, "link": f"https://x.com/{n}",
         "quantity": 10, "request_id": f"r{n}"}
        for n in range(6)
    ]  # fmt: skip
    balance = {"key": alice.key, "action": "balance"}
    # Two threads per gate: six writers fill the write gate three times over.
    with (
        serve_in_thread(create_app(api_db, workers=2)) as url,
        httpx.Client(base_url=url, timeout=60) as client,
        ThreadPoolExecutor(max_workers=6) as pool,
    ):
        with write_lock_held(db, alice):
            pending = [pool.submit(_timed, client, body) for body in adds]
            time.sleep(0.2)  # the writers are in, waiting
            reads = [_timed(client, balance) for _ in range(5)]
            written = [future.result() for future in pending]
        for seconds, response in reads:
            assert response.json() == {"balance": "100.00000", "currency": "USD"}
            assert seconds < busy / 2, seconds  # never behind the blocked writers
        for seconds, response in written:
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == "application/json"
            assert response.headers["retry-after"] == "2"
            assert response.json() == {
                "error": "Service temporarily unavailable",
                "detail": "The database is busy or unreachable; nothing was done. Try again later.",
            }
            assert busy * 0.9 < seconds < 2 * busy + 1.5, seconds
        assert balance_text(db, alice.id) == "100.00000"
        # The lock is gone: the same requests go through, each exactly once.
        again = [client.post(ENDPOINT, data=body).json() for body in adds + adds]
    assert sorted(a["order"] for a in again) == sorted([1, 2, 3, 4, 5, 6] * 2)
    assert balance_text(db, alice.id) == "99.94600"
    assert_ledger_consistent(db)
    api_db.dispose()


def test_reads_answer_while_the_write_gate_is_full(db: Database) -> None:
    """The hint of the review: the API's 4 threads were all taken by writers
    waiting on the lock, so a balance call waited for one of them."""
    make_service(db, min_quantity=1)
    alice = make_customer(db)
    api_db = Database(db.url, busy_timeout=BUSY)
    stop = threading.Event()
    with (
        serve_in_thread(create_app(api_db, workers=4)) as url,
        httpx.Client(base_url=url, timeout=60) as client,
        ThreadPoolExecutor(max_workers=8) as pool,
    ):

        def keep_adding(n: int) -> int:
            calls = 0
            while not stop.is_set():
                body = {"key": alice.key, "action": "add", "service": 1,
                        "link": f"https://x.com/{n}/{calls}", "quantity": 10}  # fmt: skip
                client.post(ENDPOINT, data=body)
                calls += 1
            return calls

        with write_lock_held(db, alice):
            writers = [pool.submit(keep_adding, n) for n in range(8)]
            time.sleep(0.3)
            slowest = max(_timed(client, {"key": alice.key, "action": "balance"})[0]
                          for _ in range(20))  # fmt: skip
            stop.set()
            assert sum(w.result() for w in writers) >= 8
    assert slowest < 0.5, slowest
    assert_ledger_consistent(db)
    api_db.dispose()


def test_serve_takes_its_wait_from_the_settings(sqlite_db: Database, tmp_path: Path) -> None:
    """`smmpanel serve` with SMMPANEL_DB_BUSY_TIMEOUT_SECONDS=1: a real process."""
    make_service(sqlite_db, min_quantity=1)
    alice = make_customer(sqlite_db)
    port = free_port()
    env = smmpanel_env(sqlite_db.url, SMMPANEL_DB_BUSY_TIMEOUT_SECONDS="1")
    body = {"key": alice.key, "action": "add", "service": 1, "link": "https://x.com/s",
            "quantity": 10}  # fmt: skip
    with process(env, "serve", "--port", str(port), log=tmp_path / "serve.log"):
        wait_http(f"http://127.0.0.1:{port}/healthz")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            with write_lock_held(sqlite_db, alice):
                seconds, response = _timed(client, body)
            assert response.status_code == 503
            assert 0.9 < seconds < 2.5, seconds
            assert client.post(ENDPOINT, data=body).json() == {"order": 1}
