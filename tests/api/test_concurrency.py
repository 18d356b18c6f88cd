"""Simultaneous requests over real HTTP, on SQLite and PostgreSQL: the balance
never overdraws, a request id makes one order, a link takes one active order,
and a refund happens once however many hands reach for it."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar

import httpx

from smmpanel.accounts.queries import account_balance
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.ledger.queries import list_entries
from smmpanel.orders.models import Order
from smmpanel.orders.requests import request_cancel, resolve_cancel
from smmpanel.orders.service import place_order, update_order
from smmpanel.panel.settings import put_setting
from tests.api.helpers import TRANSPORTS, answer, assert_ledger_consistent, balance_text, send
from tests.factories import make_customer, make_service

T = TypeVar("T")
NO_FUNDS = {"error": "Not enough funds on balance"}
DUPLICATE = "You have active order with this link. Please wait until order being completed."


def _all_at_once(count: int, work: Callable[[int], T]) -> list[T]:
    """Run work(0..count-1) in `count` threads released together."""
    barrier = threading.Barrier(count)

    def run(i: int) -> T:
        barrier.wait(timeout=30)
        return work(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def _adder(url: str, key: str) -> Callable[[int, dict[str, Any]], Any]:
    def add(i: int, params: dict[str, Any]) -> Any:
        with httpx.Client(base_url=url, timeout=60) as client:
            body = {"key": key, "action": "add", **params}
            return answer(send(client, TRANSPORTS[i % 3], body))

    return add


def _orders(db: Database) -> list[Order]:
    with db.read() as session:
        return list(session.query(Order).order_by(Order.id))


def test_balance_covers_exactly_k_of_n(db: Database, panel_url: str) -> None:
    n, k = 40, 13
    make_service(db, rate="9", min_quantity=1)  # 100 units cost 0.90000
    customer = make_customer(db, balance=str(k * Decimal("0.9") + Decimal("0.5")))  # 12.2
    add = _adder(panel_url, customer.key)

    answers = _all_at_once(
        n, lambda i: add(i, {"service": 1, "link": f"https://x.com/{i}", "quantity": 100})
    )
    placed = [a for a in answers if set(a) == {"order"}]
    assert len(placed) == k
    assert [a for a in answers if a not in placed] == [NO_FUNDS] * (n - k)
    assert balance_text(db, customer.id) == "0.50000"
    orders = _orders(db)
    assert sorted(o.id for o in orders) == sorted(a["order"] for a in placed)
    assert all(o.charge == 90_000 for o in orders)
    charges = [e for e in list_entries(db, account_id=customer.id) if e.kind == "charge"]
    assert len(charges) == k
    assert min(e.balance_after for e in charges) == 50_000
    assert_ledger_consistent(db)


def test_same_request_id_at_once_makes_one_order(db: Database, panel_url: str) -> None:
    make_service(db, rate="1", min_quantity=1)
    customer = make_customer(db)
    add = _adder(panel_url, customer.key)
    params = {"service": 1, "link": "https://x.com/one", "quantity": 1000, "request_id": "r-1"}
    answers = _all_at_once(20, lambda i: add(i, params))
    assert len(_orders(db)) == 1
    assert answers == [{"order": _orders(db)[0].id}] * 20
    assert balance_text(db, customer.id) == "99.00000"
    assert_ledger_consistent(db)


def test_same_link_at_once_makes_one_order(db: Database, panel_url: str) -> None:
    make_service(db, rate="1", min_quantity=1)
    alice, bob = make_customer(db), make_customer(db, "bob")
    adders = [_adder(panel_url, alice.key), _adder(panel_url, bob.key)]
    params = {"service": 1, "link": "https://x.com/busy", "quantity": 1000}
    answers = _all_at_once(20, lambda i: adders[i % 2](i, params))
    orders = _orders(db)
    assert len(orders) == 1
    assert Counter(a.get("error", "order") for a in answers) == {"order": 1, DUPLICATE: 19}
    total = sum(account_balance(db, c.id)[0] for c in (alice, bob))
    assert total == 2 * 10_000_000 - 100_000  # one order of 1.00000 between them
    assert_ledger_consistent(db)


def test_account_scope_same_link_at_once_makes_one_order_per_account(
    db: Database, panel_url: str
) -> None:
    """duplicate_link_scope=account: the rule holds per account under a race
    (its unique key), and one account's order never blocks another's."""
    with db.write() as session:
        put_setting(session, "duplicate_link_scope", "account")
    make_service(db, rate="1", min_quantity=1)
    alice, bob = make_customer(db), make_customer(db, "bob")
    adders = [_adder(panel_url, alice.key), _adder(panel_url, bob.key)]
    params = {"service": 1, "link": "https://x.com/busy", "quantity": 1000}
    answers = _all_at_once(20, lambda i: adders[i % 2](i, params))
    orders = _orders(db)
    assert sorted(o.account_id for o in orders) == sorted([alice.id, bob.id])
    assert Counter(a.get("error", "order") for a in answers) == {"order": 2, DUPLICATE: 18}
    assert [balance_text(db, c.id) for c in (alice, bob)] == ["99.00000", "99.00000"]
    assert_ledger_consistent(db)


def test_one_refund_however_many_hands(db: Database) -> None:
    """The owner cancels, a completed cancel request cancels, a Partial arrives:
    all at once, and the order is refunded exactly once."""
    make_service(db, rate="1", min_quantity=1, cancel=True)
    customer = make_customer(db)
    order_id = place_order(
        db, account_id=customer.id, service_id=1, params={"link": "x.com/a", "quantity": 1000}
    ).order_id
    cancel_id, _ = request_cancel(db, account_id=customer.id, order_id=order_id)

    def hand(i: int) -> str:
        try:
            if i % 3 == 0:
                update_order(db, order_id=order_id, status="Canceled")
            elif i % 3 == 1:
                resolve_cancel(db, cancel_id=cancel_id, status="Completed")
            else:
                update_order(db, order_id=order_id, status="Partial", remains=500)
        except DomainError as exc:
            return type(exc).__name__
        return "ok"

    results = _all_at_once(12, hand)
    assert "ok" in results
    refunds = [e for e in list_entries(db, account_id=customer.id) if e.kind == "refund"]
    assert len(refunds) == 1
    status = _orders(db)[0].status
    expected = {"Canceled": "100.00000", "Partial": "99.50000"}[status]
    assert balance_text(db, customer.id) == expected
    assert_ledger_consistent(db)
