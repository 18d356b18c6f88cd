"""`smmpanel refills ...` and `smmpanel cancels ...`."""

from __future__ import annotations

import json

from smmpanel.accounts.queries import account_balance
from smmpanel.db import Database
from smmpanel.orders.queries import orders_by_id
from smmpanel.orders.requests import request_cancel, request_refill
from smmpanel.orders.service import place_order, update_order
from tests.cli.conftest import Run
from tests.factories import Customer, make_customer, make_service


def _order(db: Database, customer: Customer, service: int, link: str) -> int:
    params = {"link": link, "quantity": "1000"}
    return place_order(db, account_id=customer.id, service_id=service, params=params).order_id


def _refill(db: Database, customer: Customer) -> tuple[int, int]:
    service = make_service(db, refill=True)
    order = _order(db, customer, service, "https://instagram.com/a")
    update_order(db, order_id=order, status="Completed")
    return order, request_refill(db, account_id=customer.id, order_id=order)


def test_refills(run: Run, db: Database) -> None:
    alice = make_customer(db)
    order, refill = _refill(db, alice)
    rows = json.loads(run("refills", "list", "--json").stdout)
    assert [{k: v for k, v in r.items() if not k.endswith("_at")} for r in rows] == [
        {"id": refill, "order": order, "user": "alice", "status": "Pending"}
    ]
    assert json.loads(run("refills", "list", "--status", "completed", "--json").stdout) == []
    table = run("refills", "list").stdout
    assert next(line for line in table.splitlines() if "alice" in line).split()[:4] == [
        str(refill),
        str(order),
        "alice",
        "Pending",
    ]
    result = run("refills", "update", str(refill), "--status", "in progress")
    assert result.stdout.strip() == f"refill {refill} (order {order}): Pending -> In progress"
    run("refills", "update", str(refill), "--status", "Completed")
    closed = run("refills", "update", str(refill), "--status", "Rejected", ok=False)
    assert f"refill {refill} is Completed already" in closed.stderr


def test_refill_refusals(run: Run, db: Database) -> None:
    _order_id, refill = _refill(db, make_customer(db))
    assert (
        "no refill request 77"
        in run("refills", "update", "77", "--status", "Error", ok=False).stderr
    )
    assert (
        "unknown refill status 'Done'"
        in run("refills", "update", str(refill), "--status", "Done", code=2).stderr
    )
    assert "unknown refill status" in run("refills", "list", "--status", "x", code=2).stderr


def test_completed_cancel_refunds(run: Run, db: Database) -> None:
    alice = make_customer(db)
    service = make_service(db, rate="0.90", cancel=True)
    order = _order(db, alice, service, "https://instagram.com/a")
    cancel, _kind = request_cancel(db, account_id=alice.id, order_id=order)
    rows = json.loads(run("cancels", "list", "--status", "pending", "--json").stdout)
    assert [(r["id"], r["order"], r["user"], r["type"], r["status"]) for r in rows] == [
        (cancel, order, "alice", "order", "Pending")
    ]
    result = run("cancels", "update", str(cancel), "--status", "completed")
    assert result.stdout.splitlines() == [
        "refunded 0.90000 USD to alice",
        f"cancel {cancel} (order {order}, now Canceled): Pending -> Completed",
    ]
    assert account_balance(db, alice.id)[0] == 10_000_000
    assert orders_by_id(db, [order], account_id=None)[order].status == "Canceled"
    again = run("cancels", "update", str(cancel), "--status", "Rejected", ok=False)
    assert "is Completed already" in again.stderr
    assert account_balance(db, alice.id)[0] == 10_000_000


def test_rejected_cancel_keeps_the_order(run: Run, db: Database) -> None:
    alice = make_customer(db)
    service = make_service(db, cancel=True)
    order = _order(db, alice, service, "https://instagram.com/a")
    cancel, _kind = request_cancel(db, account_id=alice.id, order_id=order)
    result = run("cancels", "update", str(cancel), "--status", "Rejected")
    assert result.stdout.strip() == (
        f"cancel {cancel} (order {order}, now Pending): Pending -> Rejected"
    )
    table = run("cancels", "list").stdout
    assert next(line for line in table.splitlines() if "alice" in line).split()[:5] == [
        str(cancel),
        str(order),
        "alice",
        "order",
        "Rejected",
    ]
    assert (
        "no cancel request 9"
        in run("cancels", "update", "9", "--status", "Rejected", ok=False).stderr
    )
