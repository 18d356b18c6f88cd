"""Two real `smmpanel serve` processes over one database, each with its own
kept `services` answers: a catalog change made elsewhere is answered by both
on the next call, and a rotated key or a suspended account is refused by both
on the very next call, for `services` after it was kept as for `balance` and
`status`; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from smmpanel.accounts.models import SUSPENDED
from smmpanel.accounts.service import rotate_api_key, set_account_options
from smmpanel.catalog.service import update_service
from smmpanel.db import Database
from smmpanel.server import free_port
from tests.e2e.processes import process, smmpanel_env, wait_http
from tests.factories import make_customer, make_order, make_service

INVALID_KEY = {"error": "Invalid API key"}


@pytest.fixture
def servers(db: Database, tmp_path: Path) -> Iterator[list[str]]:
    """The /api/v2 URLs of two server processes of the test's database."""
    env = smmpanel_env(db.url)
    with ExitStack() as stack:
        urls = []
        for n in range(2):
            port = free_port()
            log = tmp_path / f"serve-{n}.log"
            stack.enter_context(process(env, "serve", "--port", str(port), log=log))
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_http(f"{url}/healthz")
        yield [f"{url}/api/v2" for url in urls]


def _call(url: str, key: str, action: str, **params: Any) -> Any:
    response = httpx.post(url, data={"key": key, "action": action, **params}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _reads(url: str, key: str, order: int) -> list[Any]:
    return [
        _call(url, key, "services"),
        _call(url, key, "balance"),
        _call(url, key, "status", order=str(order)),
        _call(url, key, "status", orders=str(order)),
    ]


def test_two_processes_see_catalog_changes_and_refuse_a_rotated_key_at_once(
    db: Database, servers: list[str]
) -> None:
    service = make_service(db, rate="1.25", min_quantity=1)
    alice = make_customer(db)
    order = make_order(db, alice, service, quantity=10)
    for url in servers:
        for _ in range(2):  # the second `services` is answered from the kept list
            services, balance, one, many = _reads(url, alice.key, order)
            assert [(s["service"], s["rate"]) for s in services] == [(service, "1.25")]
            assert balance == {"balance": "99.98750", "currency": "USD"}
            assert one["status"] == "Pending" and many[str(order)] == one

    update_service(db, service_id=service, changes={"rate": "2.75"})
    for url in servers:
        assert [s["rate"] for s in _call(url, alice.key, "services")] == ["2.75"]

    new_key = rotate_api_key(db, username="alice")
    for url in servers:
        assert _reads(url, alice.key, order) == [INVALID_KEY] * 4
        services, balance, one, _ = _reads(url, new_key, order)
        assert [s["rate"] for s in services] == ["2.75"]
        assert balance["balance"] == "99.98750" and one["status"] == "Pending"


def test_two_processes_refuse_a_suspended_account_on_the_next_call(
    db: Database, servers: list[str]
) -> None:
    service = make_service(db, min_quantity=1)
    alice = make_customer(db)
    bob = make_customer(db, "bob")
    order = make_order(db, alice, service, quantity=10)
    for url in servers:
        for _ in range(2):
            assert all("error" not in str(a)[:20] for a in _reads(url, alice.key, order))
            assert _call(url, bob.key, "services") == _call(url, alice.key, "services")

    set_account_options(db, username="alice", status=SUSPENDED)
    for url in servers:
        assert _reads(url, alice.key, order) == [INVALID_KEY] * 4
        # The list kept for both is still bob's to have.
        assert [s["service"] for s in _call(url, bob.key, "services")] == [service]
