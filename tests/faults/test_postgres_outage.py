"""PostgreSQL made unreachable under load, through a loopback TCP proxy between
the panel and the server: calls fail cleanly with 503 within the bound, nothing
is half-written, and everything resumes when the server is back."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import event

from smmpanel.api_v2.app import create_app
from smmpanel.db import Database
from smmpanel.server import serve_in_thread
from tests.factories import Customer, make_customer, make_service
from tests.faults.traffic import TRANSPORT_ERROR, Traffic, verify_orders
from tests.figures import report
from tests.tcp_proxy import TcpProxy, proxied

BUSY = 2.0  # the API's database wait here (libpq's connect timeout cannot go below 2 s)
# A gate, then a connection attempt: twice the wait, plus slack for two shared cores.
BOUND = 2 * BUSY + 1.5
FUNDS = "1000"
UNAVAILABLE = "Service temporarily unavailable"


@pytest.fixture
def panel(postgres_db: Database) -> Iterator[tuple[TcpProxy, str, Database]]:
    """The panel's API reaching PostgreSQL through a proxy; the test's own
    connection (postgres_db) goes around it."""
    with proxied(postgres_db.url) as (proxy, url):
        api_db = Database(url, busy_timeout=BUSY)
        with serve_in_thread(create_app(api_db)) as base:
            yield proxy, base, api_db
        api_db.dispose()


def _customer(db: Database) -> tuple[Customer, int]:
    service = make_service(db, min_quantity=1, max_quantity=100_000)
    return make_customer(db, balance=FUNDS), service


def test_outage_under_load(postgres_db: Database, panel: tuple[TcpProxy, str, Database]) -> None:
    """About 12 s: two outages of 2.5 s under load, each followed by recovery."""
    proxy, base, _api_db = panel
    alice, service = _customer(postgres_db)
    traffic = Traffic(base, alice.key, service, threads=4)
    traffic.start()
    try:
        traffic.wait_for_orders(20)
        resumed = {}
        for fault, phase in ((proxy.cut, "refused"), (proxy.stall, "stalled")):
            traffic.phase = phase
            fault()
            time.sleep(2.5)
            proxy.restore()
            traffic.phase = f"after {phase}"
            resumed[phase] = traffic.wait_for_orders(1, timeout=BOUND + 5)
            traffic.wait_for_orders(20)
    finally:
        traffic.stop()
    assert traffic.not_json == []
    statuses = traffic.by_status()
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[TRANSPORT_ERROR] == 0
    for phase in ("refused", "stalled"):
        assert traffic.by_status(phase)[503] > 0, (phase, traffic.by_status(phase))
    assert traffic.slowest(503) < BOUND, traffic.slowest(503)
    orders = verify_orders(postgres_db, alice.id, int(FUNDS) * 100_000, traffic.answered)
    report(
        "faults/postgres-outage",
        calls=len(traffic.calls),
        by_status=dict(statuses),
        faults="cut 2.5 s + stall 2.5 s",
        slowest_503_s=traffic.slowest(503),
        resumed_after_s=max(resumed.values()),
        orders=orders,
        charged_once="all",
        ledger="clean",
    )


def test_connection_lost_during_commit(
    postgres_db: Database, panel: tuple[TcpProxy, str, Database]
) -> None:
    """The connection breaks just as COMMIT is sent: the panel cannot know
    whether it was committed and says so; the same request_id then makes
    exactly one order."""
    proxy, base, api_db = panel
    alice, service = _customer(postgres_db)
    armed = {"cut": False}

    @event.listens_for(api_db.engine, "commit")
    def _cut_before_commit(_conn: object) -> None:
        if armed["cut"]:
            armed["cut"] = False
            proxy.cut()

    body = {"key": alice.key, "action": "add", "service": service, "quantity": 10,
            "link": "https://fault.test/commit", "request_id": "commit-1"}  # fmt: skip
    with httpx.Client(base_url=base, timeout=30) as client:
        armed["cut"] = True
        lost = client.post("/api/v2", data=body)
        assert lost.status_code == 503
        assert lost.json()["error"] == UNAVAILABLE
        assert "may or may not have been done" in lost.json()["detail"]
        assert lost.headers["retry-after"] == "2"
        assert client.post("/api/v2", data=body).status_code == 503  # still down
        proxy.restore()
        placed = client.post("/api/v2", data=body).json()
        assert placed == client.post("/api/v2", data=body).json()
    answered = {"commit-1": placed["order"]}
    assert verify_orders(postgres_db, alice.id, int(FUNDS) * 100_000, answered) == 1
