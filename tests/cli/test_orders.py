"""`smmpanel orders ...`."""

from __future__ import annotations

import json

import pytest

from smmpanel.accounts.queries import account_balance
from smmpanel.db import Database
from smmpanel.orders.service import place_order
from tests.cli.conftest import Run
from tests.factories import Customer, make_customer, make_service


def _order(db: Database, customer: Customer, service: int, link: str, quantity: int = 1000) -> int:
    params = {"link": link, "quantity": str(quantity)}
    return place_order(db, account_id=customer.id, service_id=service, params=params).order_id


@pytest.fixture
def shop(db: Database) -> tuple[Customer, int]:
    """alice with 100.00000 USD and a 0.90-per-1000 service."""
    return make_customer(db), make_service(db, rate="0.90")


def test_list(run: Run, db: Database, shop: tuple[Customer, int]) -> None:
    alice, service = shop
    bob = make_customer(db, "bob")
    first = _order(db, alice, service, "https://instagram.com/a")
    second = _order(db, bob, service, "https://instagram.com/b", quantity=500)
    run("orders", "update", str(first), "--status", "in progress")
    rows = json.loads(run("orders", "list", "--json").stdout)
    assert [r["id"] for r in rows] == [second, first]  # newest first
    assert {k: v for k, v in rows[1].items() if k != "created_at"} == {
        "id": first,
        "user": "alice",
        "service": service,
        "kind": "order",
        "link": "https://instagram.com/a",
        "quantity": 1000,
        "runs": None,
        "interval": None,
        "total_quantity": 1000,
        "charge": "0.90000",
        "charged": "0.90000",
        "refunded": "0.00000",
        "currency": "USD",
        "status": "In progress",
        "start_count": None,
        "remains": 1000,
    }
    assert rows[1]["created_at"].endswith("+00:00")
    only_bob = json.loads(run("orders", "list", "--user", "bob", "--json").stdout)
    assert [r["id"] for r in only_bob] == [second]
    pending = json.loads(run("orders", "list", "--status", "PENDING", "--json").stdout)
    assert [r["id"] for r in pending] == [second]
    assert len(json.loads(run("orders", "list", "--limit", "1", "--json").stdout)) == 1
    table = run("orders", "list").stdout
    line = next(line for line in table.splitlines() if "instagram.com/b" in line)
    assert line.split() == [str(second), "bob", str(service), "https://instagram.com/b", "500",
                            "0.45000", "USD", "Pending", "500"]  # fmt: skip


def test_list_refusals(run: Run) -> None:
    assert "unknown status 'done'" in run("orders", "list", "--status", "done", code=2).stderr
    assert "no account 'zed'" in run("orders", "list", "--user", "zed", ok=False).stderr
    assert run("orders", "list").stdout.strip() == "no orders"


def test_partial_refunds_and_prints_it(run: Run, db: Database, shop: tuple[Customer, int]) -> None:
    alice, service = shop
    order = _order(db, alice, service, "https://instagram.com/a")
    assert account_balance(db, alice.id)[0] == 9_910_000
    result = run(
        "orders", "update", str(order), "--status", "partial", "--remains", "400",
        "--start-count", "1200", "--note", "ran out",
    )  # fmt: skip
    assert result.stdout.splitlines() == [
        "refunded 0.36000 USD to alice",
        f"order {order}: Pending -> Partial (start count 1200, remains 400)",
    ]
    assert account_balance(db, alice.id)[0] == 9_946_000
    # A final status is kept.
    refused = run("orders", "update", str(order), "--status", "Canceled", ok=False)
    assert "final status" in refused.stderr
    assert account_balance(db, alice.id)[0] == 9_946_000


def test_cancel_refunds_everything(run: Run, db: Database, shop: tuple[Customer, int]) -> None:
    alice, service = shop
    order = _order(db, alice, service, "https://instagram.com/a")
    result = run("orders", "update", str(order), "--status", "Canceled")
    assert result.stdout.splitlines()[0] == "refunded 0.90000 USD to alice"
    assert result.stdout.splitlines()[-1].startswith(f"order {order}: Pending -> Canceled")
    assert account_balance(db, alice.id)[0] == 10_000_000


def test_counters_without_status(run: Run, db: Database, shop: tuple[Customer, int]) -> None:
    alice, service = shop
    order = _order(db, alice, service, "https://instagram.com/a")
    result = run("orders", "update", str(order), "--start-count", "77")
    assert result.stdout.strip() == f"order {order}: Pending (start count 77, remains 1000)"
    again = run("orders", "update", str(order), "--start-count", "77")
    assert again.stdout.strip() == f"order {order}: unchanged (Pending)"


def test_update_refusals(run: Run, db: Database, shop: tuple[Customer, int]) -> None:
    alice, service = shop
    order = str(_order(db, alice, service, "https://instagram.com/a"))
    assert (
        "no order 999" in run("orders", "update", "999", "--status", "Completed", ok=False).stderr
    )
    assert (
        "unknown status 'Done'" in run("orders", "update", order, "--status", "Done", code=2).stderr
    )
    assert "nothing to change" in run("orders", "update", order, code=2).stderr
    assert (
        "remains must be between"
        in run("orders", "update", order, "--remains", "5000", ok=False).stderr
    )
    assert (
        "Partial needs remains"
        in run("orders", "update", order, "--status", "Partial", "--remains", "0", ok=False).stderr
    )


def test_show(run: Run, db: Database, shop: tuple[Customer, int]) -> None:
    alice, service = shop
    order = _order(db, alice, service, "https://instagram.com/a")
    run("orders", "update", str(order), "--status", "In progress", "--start-count", "10")
    run("orders", "update", str(order), "--status", "Canceled", "--note", "customer asked")
    shown = json.loads(run("orders", "show", str(order), "--json").stdout)
    assert shown["order"]["status"] == "Canceled"
    assert shown["order"]["start_count"] == 10
    events = [(e["from"], e["to"], e["actor"], e["note"]) for e in shown["events"]]
    assert events == [
        (None, "Pending", "api", ""),
        ("Pending", "In progress", "owner", ""),
        ("In progress", "Canceled", "owner", "customer asked"),
    ]
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in shown["ledger"]] == [
        ("charge", "-0.90000", "99.10000"),
        ("refund", "0.90000", "100.00000"),
    ]
    text = run("orders", "show", str(order)).stdout
    assert "status:         Canceled" in text
    assert "customer asked" in text
    assert "no order 5000" in run("orders", "show", "5000", ok=False).stderr
