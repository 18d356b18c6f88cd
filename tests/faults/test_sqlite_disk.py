"""A SQLite database that cannot be written (read-only, or its disk full): writes
answer a clear 503 with nothing done, reads go on, and writes work again once
the database can take them.

The tests run as root, for whom a read-only file mode does not stop writes; the
database itself is made read-only (PRAGMA query_only) or full (PRAGMA
max_page_count at its current size) on every connection of the panel's engine.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
from sqlalchemy import event

from smmpanel.api_v2.app import create_app
from smmpanel.db import Database
from smmpanel.server import serve_in_thread
from tests.api.helpers import ENDPOINT, balance_text
from tests.factories import make_customer, make_service
from tests.faults.traffic import verify_orders
from tests.figures import report

UNAVAILABLE = {
    "error": "Service temporarily unavailable",
    "detail": "The database is busy or unreachable; nothing was done. Try again later.",
}


def _on_every_connection(db: Database, pragma: str) -> None:
    @event.listens_for(db.engine, "connect")
    def _apply(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute(pragma)


def _add(client: httpx.Client, key: str, n: int) -> httpx.Response:
    body = {"key": key, "action": "add", "service": 1, "quantity": 10,
            "link": f"https://disk.test/{n}", "request_id": f"d{n}"}  # fmt: skip
    return client.post(ENDPOINT, data=body)


def test_read_only_database(sqlite_db: Database) -> None:
    make_service(sqlite_db, min_quantity=1)
    alice = make_customer(sqlite_db)
    read_only = Database(sqlite_db.url, busy_timeout=1)
    _on_every_connection(read_only, "PRAGMA query_only = 1")
    with serve_in_thread(create_app(read_only)) as url, httpx.Client(base_url=url) as client:
        for n in range(5):
            refused = _add(client, alice.key, n)
            assert refused.status_code == 503
            assert refused.json() == UNAVAILABLE
        cancel = client.post(ENDPOINT, data={"key": alice.key, "action": "cancel", "orders": "1"})
        assert (cancel.status_code, cancel.json()) == (503, UNAVAILABLE)
        status = client.post(ENDPOINT, data={"key": alice.key, "action": "status", "order": "1"})
        assert status.json() == {"error": "Incorrect order ID"}
        balance = client.post(ENDPOINT, data={"key": alice.key, "action": "balance"})
        assert balance.json() == {"balance": "100.00000", "currency": "USD"}
    read_only.dispose()
    writable = Database(sqlite_db.url, busy_timeout=1)
    with serve_in_thread(create_app(writable)) as url, httpx.Client(base_url=url) as client:
        assert _add(client, alice.key, 0).json() == {"order": 1}
    writable.dispose()
    assert verify_orders(sqlite_db, alice.id, 100 * 100_000, {"d0": 1}) == 1
    report("faults/sqlite-read-only", writes_refused=6, reads_answered=2, answer=503, after="ok")


def test_full_disk(sqlite_db: Database) -> None:
    make_service(sqlite_db, min_quantity=1)
    alice = make_customer(sqlite_db, balance="10000")
    with sqlite_db.read() as session:
        pages = session.connection().exec_driver_sql("PRAGMA page_count").scalar()
    full = Database(sqlite_db.url, busy_timeout=1)
    _on_every_connection(full, f"PRAGMA max_page_count = {pages}")
    statuses: Counter[int] = Counter()
    answered: dict[str, int] = {}
    with serve_in_thread(create_app(full)) as url, httpx.Client(base_url=url) as client:
        # Orders fill what free room the file has, then the disk is "full".
        for n in range(2000):
            response = _add(client, alice.key, n)
            statuses[response.status_code] += 1
            if response.status_code == 200:
                answered[f"d{n}"] = response.json()["order"]
                continue
            assert response.status_code == 503
            assert response.json() == UNAVAILABLE
            if statuses[503] == 3:
                break
        assert statuses[503] == 3, statuses
        reads = client.post(ENDPOINT, data={"key": alice.key, "action": "balance"})
        assert reads.status_code == 200
    full.dispose()
    before = balance_text(sqlite_db, alice.id)
    assert verify_orders(sqlite_db, alice.id, 10000 * 100_000, answered) == len(answered)
    # Room again: the refused orders go through, once each.
    roomy = Database(sqlite_db.url, busy_timeout=1)
    with serve_in_thread(create_app(roomy)) as url, httpx.Client(base_url=url) as client:
        for n in range(len(answered), len(answered) + 3):
            answered[f"d{n}"] = _add(client, alice.key, n).json()["order"]
    roomy.dispose()
    assert verify_orders(sqlite_db, alice.id, 10000 * 100_000, answered) == len(answered)
    assert balance_text(sqlite_db, alice.id) != before
    report(
        "faults/sqlite-full-disk",
        adds_before_full=statuses[200],
        refused=statuses[503],
        answer="503",
        orders=len(answered),
        ledger="clean",
    )
