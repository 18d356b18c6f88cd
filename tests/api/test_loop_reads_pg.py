"""PostgreSQL's short reads awaited on the event loop (loop_reads_pg.py): the
same answers as a thread's, and a database that fails them (unreachable, or
a connection killed) sends them to a thread, which answers, and the loop's
reads come back by themselves."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from starlette.applications import Starlette

from smmpanel.api_v2 import loop_reads_pg
from smmpanel.api_v2.app import ApiEndpoint, create_app
from smmpanel.db import Database
from smmpanel.server import free_port, serve_in_thread
from tests.api.helpers import ENDPOINT
from tests.factories import make_customer, make_order, make_service


def endpoint_of(app: Starlette) -> ApiEndpoint:
    endpoint = app.routes[0].endpoint  # type: ignore[attr-defined]
    assert isinstance(endpoint, ApiEndpoint)
    return endpoint


def _answers(db: Database, bodies: list[dict[str, str]], *, loop: bool) -> tuple[list[Any], int]:
    """The answers of `bodies` in turn, and how many the loop answered."""
    app = create_app(db)
    endpoint = endpoint_of(app)
    reads = endpoint.pg_reads
    assert reads is not None
    if not loop:
        endpoint.pg_reads = None  # every call through a thread
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        client.post(ENDPOINT, data={"key": "warm-up", "action": "balance"})
        time.sleep(0.2)  # the pool's first connection is made
        answered = reads.answered
        found = []
        for body in bodies:
            response = client.post(ENDPOINT, data=body)
            assert response.status_code == 200, response.text
            found.append(response.json())
    assert _loop_connections(db) == 0  # closed at the app's shutdown
    return found, reads.answered - answered


def _loop_connections(db: Database) -> int:
    """The loop reads' connections open to the database (the server's count
    lags its clients' goodbyes a little)."""
    deadline = time.monotonic() + 3
    while True:
        with db.engine.begin() as connection:
            count = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = 'smmpanel-loop-reads' "
                    "AND datname = current_database()"
                )
            ).scalar_one()
        if count == 0 or time.monotonic() > deadline:
            return int(count)
        time.sleep(0.05)


def test_the_loop_answers_as_the_threads_do(postgres_db: Database) -> None:
    service = make_service(postgres_db, min_quantity=1)
    alice = make_customer(postgres_db)
    bob = make_customer(postgres_db, "bob")
    mine = [
        make_order(postgres_db, alice, service, quantity=q, link=f"https://x.com/{q}")
        for q in (1, 2, 3)
    ]
    theirs = make_order(postgres_db, bob, service, quantity=5)
    auto = make_service(postgres_db, type="Subscriptions", min_quantity=10, max_quantity=100)
    subscription = make_order(
        postgres_db, alice, auto, quantity=None, username="a", min="10", max="50"
    )
    hundred = ",".join(str(i) for i in [*mine, theirs, *range(1000, 1096)])
    key = alice.key
    bodies = [
        {"key": key, "action": "balance"},
        {"key": key, "action": "services"},
        {"key": key, "action": "services"},  # now kept: on the loop
        {"key": key, "action": "status", "order": str(mine[0])},
        {"key": key, "action": "status", "order": str(theirs)},
        {"key": key, "action": "status", "orders": f"{mine[1]},x,{theirs},{mine[2]},999"},
        {"key": key, "action": "status", "orders": hundred},
        {"key": key, "action": "status", "orders": f"{mine[0]},{subscription}"},  # a thread's
        {"key": key, "action": "status", "orders": ",".join(["1"] * 101)},
        {"key": key, "action": "status"},
        {"key": "wrong", "action": "balance"},
        {"key": "wrong", "action": "services"},
        {"key": "wrong", "action": "status", "orders": ",".join(["1"] * 101)},
        {"action": "status", "order": "1"},
    ]
    on_loop, answered = _answers(postgres_db, bodies, loop=True)
    by_threads, none = _answers(postgres_db, bodies, loop=False)
    assert on_loop == by_threads
    assert none == 0 and answered == len(bodies) - 2  # the first `services`, the subscription
    assert on_loop[0] == {"balance": "99.99460", "currency": "USD"}
    assert on_loop[1] == on_loop[2] and on_loop[1][0]["service"] == service
    assert on_loop[3]["status"] == "Pending" and on_loop[3]["charge"] == "0.00090"
    assert on_loop[4] == {"error": "Incorrect order ID"}
    assert list(on_loop[5]) == [str(mine[1]), "x", str(theirs), str(mine[2]), "999"]
    assert on_loop[5][str(theirs)] == {"error": "Incorrect order ID"}
    assert on_loop[5][str(mine[2])]["charge"] == "0.00270"
    assert len(on_loop[6]) == 100 and on_loop[6][str(mine[0])] == on_loop[3]
    assert on_loop[7][str(subscription)]["charge"] == "0.00000"
    assert on_loop[10:] == [{"error": "Invalid API key"}] * 4


def test_an_unreachable_database_answers_503_through_a_thread(postgres_db: Database) -> None:
    url = postgres_db.engine.url.set(port=free_port()).render_as_string(hide_password=False)
    down = Database(url, busy_timeout=1.0)
    app = create_app(down)
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=30) as client:
            started = time.monotonic()
            answers = [client.post(ENDPOINT, data={"key": "k", "action": "balance"}) for _ in "abc"]
            seconds = time.monotonic() - started
    finally:
        down.dispose()
    assert [a.status_code for a in answers] == [503] * 3
    assert seconds < 3 * 2.5, seconds
    reads = endpoint_of(app).pg_reads
    assert reads is not None and reads.answered == 0


def test_a_killed_connection_is_replaced_and_the_calls_still_answer(
    postgres_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loop_reads_pg, "REST_SECONDS", 0.5)
    alice = make_customer(postgres_db)
    body = {"key": alice.key, "action": "balance"}
    app = create_app(postgres_db)
    reads = endpoint_of(app).pg_reads
    assert reads is not None
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        client.post(ENDPOINT, data=body)
        time.sleep(0.2)
        before = reads.answered
        assert client.post(ENDPOINT, data=body).json()["balance"] == "100.00000"
        assert reads.answered == before + 1
        with postgres_db.engine.begin() as connection:
            killed = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'smmpanel-loop-reads' "
                    "AND datname = current_database()"
                )
            ).scalar()
        time.sleep(0.1)
        after_kill = [client.post(ENDPOINT, data=body) for _ in range(3)]
        resting = reads.answered
        time.sleep(0.6)
        client.post(ENDPOINT, data=body)  # opens a connection anew (maybe a thread answers)
        time.sleep(0.2)
        recovered = [client.post(ENDPOINT, data=body).json() for _ in range(3)]
    assert killed and killed >= 1
    assert [a.status_code for a in after_kill] == [200] * 3
    assert [a.json()["balance"] for a in after_kill] == ["100.00000"] * 3
    assert resting == before + 1  # the three went to a thread
    assert recovered == [{"balance": "100.00000", "currency": "USD"}] * 3
    assert reads.answered >= resting + 3  # on the loop again
