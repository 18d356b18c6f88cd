"""Reads that tolerate lag go to a real streaming replica; writes, keys, balances
and just-placed orders to the primary (docs/operations.md, "Read replicas").

The standby's replay is paused to make the replica visibly behind: what the
primary changes meanwhile is absent from what the replica serves and present in
what the primary serves, so each answer shows where it was read."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from smmpanel.accounts.passwords import set_password
from smmpanel.accounts.service import rotate_api_key, set_account_options
from smmpanel.catalog.service import update_service
from smmpanel.config import Settings, replica_urls
from smmpanel.db import Database
from smmpanel.ledger.funding import fund_account
from smmpanel.orders import listing
from smmpanel.orders.admin_listing import OrderFilter, list_all_orders
from smmpanel.orders.lifecycle import change_order_status, lock_order
from smmpanel.server import free_port, serve_in_thread, site_app
from tests.cli.conftest import invoke
from tests.conftest import _reset_postgres
from tests.factories import make_customer, make_order, make_service
from tests.replica.conftest import Cluster
from tests.web.conftest import PASSWORD, Browser, web_settings

# One process runs them all: the cluster is built once per process (./dev's loadgroup).
pytestmark = pytest.mark.xdist_group("replica")

FRESH_SECONDS = 1.0


@pytest.fixture
def panel(cluster: Cluster) -> Iterator[Database]:
    """The primary, emptied, with the standby as its replica, caught up."""
    primary = Database(cluster.primary_url)
    _reset_postgres(primary)
    primary.dispose()
    cluster.wait_for_replay()
    db = Database(
        cluster.primary_url, replica_urls=[cluster.standby_url], fresh_seconds=FRESH_SECONDS
    )
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def served(panel: Database) -> Iterator[httpx.Client]:
    with (
        serve_in_thread(site_app(panel, web_settings())) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


def call(client: httpx.Client, key: str, action: str, **params: Any) -> Any:
    response = client.post("/api/v2", data={"key": key, "action": action, **params})
    assert response.status_code == 200, response.text
    return response.json()


def names(client: httpx.Client, key: str) -> list[str]:
    return [entry["name"] for entry in call(client, key, "services")]


def test_the_paused_replica_serves_lists_and_the_primary_keys_balances_and_new_orders(
    cluster: Cluster, panel: Database, served: httpx.Client
) -> None:
    alice = make_customer(panel, "alice", balance="50")
    service = make_service(panel, name="Followers", rate="2.00")
    old = make_order(panel, alice, service, quantity=1000)  # 2.00 charged
    cluster.wait_for_replay()
    time.sleep(FRESH_SECONDS + 0.2)  # `old` is no longer fresh: a replica may answer for it
    assert names(served, alice.key) == ["Followers"]

    cluster.pause_replay()
    try:
        update_service(panel, service_id=service, changes={"name": "Followers HQ"})
        with panel.write() as session:
            change_order_status(session, lock_order(session, old), status="Completed", actor="t")
        placed = call(
            served, alice.key, "add", service=service, link="https://x.com/b", quantity=500
        )

        # The catalog and the old order as the replica has them: before the changes.
        assert names(served, alice.key) == ["Followers"]
        assert call(served, alice.key, "status", order=old)["status"] == "Pending"
        # The order placed a moment ago is there at once, read on the primary,
        # alone and among others; the balance is the primary's.
        new = placed["order"]
        assert call(served, alice.key, "status", order=new) == {
            "charge": "1.00000",
            "start_count": "0",
            "status": "Pending",
            "remains": "500",
            "currency": "USD",
        }
        both = call(served, alice.key, "status", orders=f"{old},{new},999999")
        assert both[str(old)]["status"] == "Pending"
        assert both[str(new)]["status"] == "Pending"
        assert both["999999"] == {"error": "Incorrect order ID"}
        assert call(served, alice.key, "balance") == {"balance": "47.00000", "currency": "USD"}
        # The lagging reader the pages' lists take reads the replica too.
        lagging = listing.list_account_orders(panel.lagging(), account_id=alice.id)
        assert [row.id for row in lagging.rows] == [old]
        current = listing.list_account_orders(panel, account_id=alice.id)
        assert [row.id for row in current.rows] == [new, old]
        admin = list_all_orders(panel.lagging(), OrderFilter())
        assert [row.id for row in admin.rows] == [old]
    finally:
        cluster.resume_replay()

    assert names(served, alice.key) == ["Followers HQ"]
    assert call(served, alice.key, "status", order=old)["status"] == "Completed"
    assert [row.id for row in list_all_orders(panel.lagging(), OrderFilter()).rows] == [new, old]


def test_keys_are_checked_on_the_primary_while_the_replica_lags(
    cluster: Cluster, panel: Database, served: httpx.Client
) -> None:
    alice = make_customer(panel, "alice")
    bob = make_customer(panel, "bob")
    make_service(panel)
    cluster.wait_for_replay()
    cluster.pause_replay()
    try:
        new_key = rotate_api_key(panel, username="alice")
        set_account_options(panel, username="bob", status="suspended")
        refused = {"error": "Invalid API key"}
        for action in ("services", "status", "balance"):
            assert call(served, alice.key, action, order=1) == refused, action
            assert call(served, bob.key, action, order=1) == refused, action
        assert names(served, new_key) == ["Followers"]
        fund_account(panel, username="alice", amount="5", note="more")
        assert call(served, new_key, "balance")["balance"] == "105.00000"
    finally:
        cluster.resume_replay()


def test_the_customer_pages_list_orders_from_the_replica_and_show_one_from_the_primary(
    cluster: Cluster, panel: Database
) -> None:
    alice = make_customer(panel, "alice")
    set_password(panel, username="alice", password=PASSWORD)
    service = make_service(panel)
    cluster.wait_for_replay()
    with serve_in_thread(site_app(panel, web_settings())) as url:
        browser = Browser(url)
        assert browser.log_in("alice").status_code == 303
        cluster.pause_replay()
        try:
            placed = make_order(panel, alice, service, link="https://x.com/just-placed")
            assert "x.com/just-placed" not in browser.get("/orders").text
            assert "x.com/just-placed" in browser.get(f"/orders/{placed}").text
        finally:
            cluster.resume_replay()
        assert "x.com/just-placed" in browser.get("/orders").text


def test_a_stopped_replica_falls_back_to_the_primary_and_says_so(
    cluster: Cluster,
    panel: Database,
    served: httpx.Client,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("smmpanel.db.REPLICA_RETRY_SECONDS", 60.0)
    alice = make_customer(panel, "alice")
    service = make_service(panel)
    cluster.wait_for_replay()
    assert names(served, alice.key) == ["Followers"]  # a pooled replica connection now
    cluster.stop_standby()
    try:
        with caplog.at_level(logging.WARNING, logger="smmpanel.db"):
            update_service(panel, service_id=service, changes={"name": "Likes"})
            assert names(served, alice.key) == ["Likes"]
            placed = make_order(panel, alice, service)
            time.sleep(FRESH_SECONDS + 0.2)  # no longer fresh: the replica would be asked
            assert call(served, alice.key, "status", order=placed)["status"] == "Pending"
            assert [row.id for row in list_all_orders(panel.lagging(), OrderFilter()).rows] == [
                placed
            ]
        warnings = [r.getMessage() for r in caplog.records if r.name == "smmpanel.db"]
        assert len(warnings) == 1, warnings  # then skipped for a while, not retried per call
        assert "read replica" in warnings[0]
        assert cluster.standby_url.rsplit(":", 1)[1] in warnings[0]  # its port and database
    finally:
        cluster.start_standby()
    cluster.wait_for_replay()


def test_an_unreachable_replica_is_skipped_for_the_next_one(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres"
    db = Database(cluster.primary_url, replica_urls=[dead, cluster.standby_url])
    try:
        with caplog.at_level(logging.WARNING, logger="smmpanel.db"):
            for _ in range(4):  # round robin: the dead one's turns go to the standby
                with db.read_core_lagging() as connection:
                    assert connection.exec_driver_sql("SELECT pg_is_in_recovery()").scalar()
        assert len([r for r in caplog.records if r.name == "smmpanel.db"]) == 1
        with db.lagging().read() as session:  # the lagging view's ORM reads too
            assert session.execute(text("SELECT pg_is_in_recovery()")).scalar()
        with db.read_core() as connection:
            assert not connection.exec_driver_sql("SELECT pg_is_in_recovery()").scalar()
    finally:
        db.dispose()


def _closed_port() -> int:
    return free_port()  # bound and closed again: nothing listens there


def test_replicas_are_for_postgresql_only(tmp_path: Path) -> None:
    """Checked when the engines are made, before any connection."""
    pg = "postgresql://postgres@127.0.0.1:1/x"
    with pytest.raises(ValueError, match="need PostgreSQL"):
        Database(f"sqlite:///{tmp_path / 'a.db'}", replica_urls=[pg])
    with pytest.raises(ValueError, match="need PostgreSQL"):
        Database(pg, replica_urls=[f"sqlite:///{tmp_path / 'b.db'}"])
    plain = Database(pg, replica_urls=[" ", ""])
    assert plain.replicas is None and plain.lagging() is plain
    plain.dispose()


def test_the_lagging_view_refuses_to_write(panel: Database) -> None:
    with pytest.raises(RuntimeError, match="does not write"), panel.lagging().write():
        pass


def test_the_setting_lists_the_urls() -> None:
    settings = Settings(database_replica_urls=" postgresql://a/x, ,postgresql://b/x,")
    assert replica_urls(settings) == ["postgresql://a/x", "postgresql://b/x"]
    assert replica_urls(Settings(database_replica_urls="")) == []


def test_serve_names_its_replicas_and_refuses_them_on_sqlite(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[uvicorn.Config] = []
    monkeypatch.setattr("smmpanel.cli.server.serve_on", lambda _sock, config: served.append(config))
    env = {"SMMPANEL_DATABASE_REPLICA_URLS": cluster.standby_url}
    args = ["serve", "--port", str(free_port())]
    sqlite = invoke(["--database-url", f"sqlite:///{tmp_path / 'p.db'}", *args], env=env)
    assert sqlite.exit_code == 1, sqlite.output
    assert "SMMPANEL_DATABASE_REPLICA_URLS needs PostgreSQL" in sqlite.output
    assert "Traceback" not in sqlite.output and not served
    postgres = invoke(["--database-url", cluster.primary_url, *args], env=env)
    assert postgres.exit_code == 0, postgres.output
    assert f"read replica {cluster.standby_url}" in postgres.stdout
    assert len(served) == 1
