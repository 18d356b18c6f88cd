"""SQLite's short reads run on the event loop, and never wait there: a database
that would make them wait sends them to a thread, which waits within the API's
bound and answers 503, while the loop goes on serving."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from smmpanel.api_v2.app import create_app
from smmpanel.cli.common import sqlite_path
from smmpanel.db import Database
from smmpanel.server import serve_in_thread
from tests.api.helpers import ENDPOINT
from tests.factories import make_customer, make_service

BUSY = 1.0
BOUND = 2 * BUSY + 1.5


def test_a_database_locked_for_reads_answers_503_in_time_and_the_loop_goes_on(
    sqlite_db: Database,
) -> None:
    make_service(sqlite_db, min_quantity=1)
    alice = make_customer(sqlite_db)
    sqlite_db.dispose()
    # An exclusive lock taken while nobody else has the database open: the one
    # way a WAL database makes its readers wait.
    holder = sqlite3.connect(str(sqlite_path(sqlite_db.url)), isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    api_db = Database(sqlite_db.url, busy_timeout=BUSY)
    reads = [{"key": alice.key, "action": a} for a in ("balance", "services", "status")]
    try:
        with (
            serve_in_thread(create_app(api_db, workers=2)) as url,
            httpx.Client(base_url=url, timeout=30) as client,
            ThreadPoolExecutor(max_workers=3) as pool,
        ):
            started = time.monotonic()
            pending = [pool.submit(client.post, ENDPOINT, data=body) for body in reads]
            time.sleep(0.2)
            # The loop is free meanwhile: a request that needs no database answers.
            # (/healthz reads the database now: a method the API refuses does not.)
            health = client.put(ENDPOINT)
            health_seconds = time.monotonic() - started
            answered = [future.result() for future in pending]
            seconds = time.monotonic() - started
            holder.execute("ROLLBACK")
            holder.execute("PRAGMA locking_mode=NORMAL")
            holder.execute("SELECT 1 FROM accounts").fetchall()  # lets the lock go
            holder.close()
            after = client.post(ENDPOINT, data=reads[0])
    finally:
        api_db.dispose()
    assert health.status_code == 405 and health_seconds < BUSY, health_seconds
    assert [r.status_code for r in answered] == [503] * 3, [r.text for r in answered]
    assert answered[0].json()["error"] == "Service temporarily unavailable"
    assert BUSY * 0.9 < seconds < BOUND, seconds
    assert after.json() == {"balance": "100.00000", "currency": "USD"}


def test_loop_reads_answer_as_the_threads_do(sqlite_db: Database) -> None:
    """The same answers on the loop (SQLite) as through a thread, errors included."""
    make_service(sqlite_db, min_quantity=1)
    alice = make_customer(sqlite_db)
    bodies = [
        {"key": alice.key, "action": "balance"},
        {"key": alice.key, "action": "services"},
        {"key": alice.key, "action": "services"},
        {"key": alice.key, "action": "status", "order": "1"},
        {"key": alice.key, "action": "status", "orders": "1,x,2"},
        {"key": "wrong", "action": "balance"},
        {"key": "wrong", "action": "services"},
        {"action": "status", "order": "1"},
    ]
    with serve_in_thread(create_app(sqlite_db)) as url, httpx.Client(base_url=url) as client:
        answers = [client.post(ENDPOINT, data=body).json() for body in bodies]
    assert answers[0] == {"balance": "100.00000", "currency": "USD"}
    assert answers[1] == answers[2] and answers[1][0]["service"] == 1
    assert answers[3] == {"error": "Incorrect order ID"}
    assert answers[4] == {e: {"error": "Incorrect order ID"} for e in ("1", "x", "2")}
    assert answers[5:] == [{"error": "Invalid API key"}] * 3
