"""500 simultaneous `add` calls from 5 OS processes against a real `smmpanel
serve` (two server processes), for one account whose balance pays for exactly
200 orders: exactly 200 orders, a balance of exactly 0, every other answer
"Not enough funds on balance", no 5xx; on SQLite and on PostgreSQL.

(tests/api/test_concurrency.py races threads of one process against a
server in the test's own process; here clients and servers are separate
processes, as in production.)  About 5-10 s per database, most of it starting
the processes."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from smmpanel.db import Database
from smmpanel.orders.models import Order
from smmpanel.server import free_port
from tests import figures
from tests.api.burst import Answer, Report, burst
from tests.api.helpers import assert_ledger_consistent, balance_text
from tests.e2e.processes import process, smmpanel_env, wait_http
from tests.factories import make_customer, make_service

PROCESSES = 5
CALLS_EACH = 100
AFFORDABLE = 200
NO_FUNDS = {"error": "Not enough funds on balance"}


def test_500_adds_from_5_processes_place_exactly_what_the_balance_pays(
    db: Database, tmp_path: Path
) -> None:
    service = make_service(db, rate="1", min_quantity=1)  # 100 units cost 0.10000
    customer = make_customer(db, balance="20")  # exactly 200 of them
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # 500 calls at once queue for a database thread longer than the default 3 s
    # bound, which is meant for a database in trouble (503, nothing done); this
    # suite is about the money under a burst, so the queue may take its time.
    env = smmpanel_env(db.url, SMMPANEL_DB_BUSY_TIMEOUT_SECONDS="60")
    with process(env, "serve", "--port", str(port), "--workers", "2", log=tmp_path / "serve.log"):
        wait_http(f"{url}/healthz")
        reports = _burst(url, customer.key, service)
    answers: list[Answer] = [answer for *_, sent in reports for answer in sent]
    # From the first process released to the last answer received.
    elapsed = max(report[2] for report in reports) - min(report[1] for report in reports)
    statuses = Counter(status for status, _ in answers)
    placed = [body for _, body in answers if isinstance(body, dict) and set(body) == {"order"}]
    refused = [body for _, body in answers if body == NO_FUNDS]
    with db.read() as session:
        order_ids = sorted(session.scalars(select(Order.id)))
    balance = balance_text(db, customer.id)
    figures.report(
        f"concurrency [{figures.backend(db)}]",
        add_calls=len(answers),
        processes=PROCESSES,
        seconds=elapsed,
        orders=len(placed),
        refused_for_funds=len(refused),
        http=dict(statuses),
        balance=balance,
    )
    assert len(answers) == PROCESSES * CALLS_EACH
    assert statuses == {200: PROCESSES * CALLS_EACH}
    assert len(placed) == AFFORDABLE
    assert len(refused) == PROCESSES * CALLS_EACH - AFFORDABLE
    assert sorted(body["order"] for body in placed) == order_ids
    assert balance == "0.00000"
    assert_ledger_consistent(db)


def _burst(url: str, key: str, service: int) -> list[Report]:
    """Start the client processes, release them together, collect their reports."""
    context = multiprocessing.get_context("spawn")  # no state of this process copied
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    clients = [
        context.Process(target=burst, args=(url, key, service, index, CALLS_EACH, barrier, results))
        for index in range(PROCESSES)
    ]
    for client in clients:
        client.start()
    try:
        collected = [results.get(timeout=120) for _ in clients]
    finally:
        for client in clients:
            client.join(timeout=30)
            if client.is_alive():
                client.kill()
    return sorted(collected)
