"""The admin's actions on orders over HTTP: each through its domain command with
the staff member as the actor (history, ledger, audit), single and in bulk;
refusals shown, never a 500; support may look but not act; CSRF."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from smmpanel.audit.models import Actor, AuditEntry
from smmpanel.db import Database
from smmpanel.ledger.models import LedgerEntry
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.orders.models import Order
from smmpanel.orders.service import update_order
from tests.factories import Customer, make_customer, make_order, make_service
from tests.web.admin_helpers import staff_browser
from tests.web.conftest import Browser

CLI = Actor("cli", "tests")
ACTIONS = ("resolve", "partial", "cancel", "resend", "reconcile", "adopt")


def order_of(db: Database, order_id: int) -> Order:
    with db.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        return order


def refunds(db: Database, order_id: int) -> list[int]:
    with db.read() as session:
        query = select(LedgerEntry.amount).where(
            LedgerEntry.order_id == order_id, LedgerEntry.kind == "refund"
        )
        return list(session.scalars(query))


def audit_of(db: Database, order_id: int) -> list[tuple[str, str]]:
    with db.read() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.action)
            .where(AuditEntry.subject == f"order:{order_id}")
            .order_by(AuditEntry.id)
        )
        return [(actor, action) for actor, action in rows]


def balance(db: Database, customer: Customer) -> int:
    with db.read() as session:
        total = session.scalar(
            select(func.sum(LedgerEntry.amount)).where(LedgerEntry.account_id == customer.id)
        )
        return int(total or 0)


def bulk(browser: Browser, ids: list[int], action: str, **fields: str) -> Any:
    token = browser.token("/admin/orders")
    data: dict[str, Any] = {"csrf_token": token, "action": action, **fields}
    data["ids"] = [str(order_id) for order_id in ids]
    return browser.http.post("/admin/orders/bulk", data=data)


def act(browser: Browser, order_id: int, action: str, **fields: str) -> Any:
    data = {f"{action}-{name}": value for name, value in fields.items()}
    return browser.submit(
        f"/admin/orders/{order_id}/{action}", data, page=f"/admin/orders/{order_id}"
    )


def test_bulk_cancel_refunds_each_order_once(db: Database, browser_factory: Any) -> None:
    customer = make_customer(db, "alice", balance="100")
    service = make_service(db, rate="1.00")
    ids = [make_order(db, customer, service, link=f"https://x.com/{n}") for n in range(4)]
    update_order(db, order_id=ids[3], status="Canceled", actor=CLI)
    before = balance(db, customer)
    manager = staff_browser(db, browser_factory, role="manager", username="mia")
    done = bulk(manager, ids, "cancel", note="customer asked", back="/admin/orders?q=x.com")
    assert done.status_code == 303 and done.headers["location"] == "/admin/orders?q=x.com"
    page = manager.get(done.headers["location"]).text
    assert "3 done, 1 refused" in page
    assert f'<a href="/admin/orders/{ids[3]}">{ids[3]}</a>: nothing changed.' in page
    for order_id in ids[:3]:
        assert order_of(db, order_id).status == "Canceled"
        assert refunds(db, order_id) == [10_000]  # 100 units at 1.00 per 1000: 0.10000
        assert audit_of(db, order_id) == [("staff:mia", "order_resolved_by_hand")]
    assert balance(db, customer) == before + 3 * 10_000
    assert find_balance_mismatches(db) == []
    # The same bulk again: every order refused, nothing refunded twice.
    again = manager.get(bulk(manager, ids, "cancel").headers["location"]).text
    assert "0 done, 4 refused" in again
    assert [len(refunds(db, order_id)) for order_id in ids] == [1, 1, 1, 1]
    assert find_balance_mismatches(db) == []
    # Shown once: the notice is gone on the next page.
    assert "refused" not in manager.get("/admin/orders").text


def test_bulk_input_is_checked(db: Database, browser_factory: Any) -> None:
    customer = make_customer(db, "alice")
    order_id = make_order(db, customer, make_service(db))
    owner = staff_browser(db, browser_factory)
    for ids, action, fields in (
        ([], "cancel", {}),
        ([order_id], "status", {}),
        ([order_id], "delete", {}),
        ([order_id], "status", {"status": "Gone"}),
    ):
        answer = bulk(owner, ids, action, **fields)
        assert answer.status_code == 400, (ids, action, answer.text[:300])
    bad_ids = owner.http.post(
        "/admin/orders/bulk",
        data={"csrf_token": owner.token("/admin/orders"), "action": "cancel", "ids": "x1"},
    )
    assert bad_ids.status_code == 400 and "Check 1 to 100 orders." in bad_ids.text
    too_many = bulk(owner, list(range(1, 102)), "cancel")
    assert too_many.status_code == 400
    assert order_of(db, order_id).status == "Pending"
    moved = bulk(owner, [order_id], "status", status="In progress", note="started")
    assert moved.status_code == 303
    assert order_of(db, order_id).status == "In progress"
    assert audit_of(db, order_id) == [("staff:owner", "order_resolved_by_hand")]


def test_single_actions_on_an_order_fulfilled_by_hand(db: Database, browser_factory: Any) -> None:
    customer = make_customer(db, "alice", balance="10")
    order_id = make_order(db, customer, make_service(db, rate="2.00"), quantity=100)
    owner = staff_browser(db, browser_factory, username="olga")
    page = owner.get(f"/admin/orders/{order_id}").text
    assert 'id="form-resolve"' in page and 'id="form-partial"' in page
    assert 'id="form-resend"' not in page and 'id="form-adopt"' not in page  # not forwarded
    russian = owner.get(f"/admin/orders/{order_id}", headers={"accept-language": "ru"}).text
    assert "Отменить с возвратом" in russian and "Журнал операций" in russian  # noqa: RUF001
    done = act(owner, order_id, "resolve", status="In progress", start_count="50", note="by hand")
    assert (done.status_code, done.headers["location"]) == (303, f"/admin/orders/{order_id}")
    shown = owner.get(f"/admin/orders/{order_id}").text
    assert "done." in shown and "by hand" in shown
    order = order_of(db, order_id)
    assert (order.status, order.start_count, order.remains) == ("In progress", 50, 100)
    nothing = act(owner, order_id, "resolve")
    assert nothing.status_code == 400 and "Give a status, a start count or remains." in nothing.text
    bad = act(owner, order_id, "partial", remains="abc")
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.text
    too_many = act(owner, order_id, "partial", remains="10" * 20)
    assert too_many.status_code == 400
    resend = act(owner, order_id, "resend")
    assert resend.status_code == 400 and "not forwarded to a provider" in resend.text
    partial = act(owner, order_id, "partial", remains="40", note="ran out")
    assert partial.status_code == 303
    order = order_of(db, order_id)
    assert (order.status, order.remains) == ("Partial", 40)
    assert refunds(db, order_id) == [8_000]  # 40 of 100 units at 2.00 per 1000: 0.08000
    refused = act(owner, order_id, "cancel")
    assert refused.status_code == 400 and "a final status is kept" in refused.text
    assert refunds(db, order_id) == [8_000]
    assert audit_of(db, order_id) == [("staff:olga", "order_resolved_by_hand")] * 2
    detail = owner.get(f"/admin/orders/{order_id}").text
    assert 'id="ledger"' in detail and "0.08" in detail and "ran out" in detail
    assert owner.submit(f"/admin/orders/{order_id}/explode", {}).status_code == 404
    assert owner.get(f"/admin/orders/{order_id}/cancel").status_code == 405
    assert find_balance_mismatches(db) == []


def test_support_may_look_but_not_act(db: Database, browser_factory: Any) -> None:
    customer = make_customer(db, "alice")
    order_id = make_order(db, customer, make_service(db))
    support = staff_browser(db, browser_factory, role="support")
    assert support.get("/admin/orders").status_code == 200
    page = support.get(f"/admin/orders/{order_id}")
    assert page.status_code == 200 and 'id="actions"' not in page.text
    for action in ACTIONS:
        answer = act(support, order_id, action, status="Canceled", remains="1", upstream_id="9")
        assert answer.status_code == 403, action
    assert bulk(support, [order_id], "cancel").status_code == 403
    assert order_of(db, order_id).status == "Pending"
    assert audit_of(db, order_id) == [] and refunds(db, order_id) == []


@pytest.mark.parametrize("path", ["/admin/orders/bulk", "/admin/orders/{id}/cancel"])
def test_a_post_without_its_csrf_token_is_refused(
    db: Database, browser_factory: Any, path: str
) -> None:
    customer = make_customer(db, "alice")
    order_id = make_order(db, customer, make_service(db))
    owner = staff_browser(db, browser_factory)
    data = {"action": "cancel", "ids": str(order_id), "cancel-note": "x"}
    answer = owner.http.post(path.format(id=order_id), data=data)
    assert answer.status_code == 403
    assert order_of(db, order_id).status == "Pending" and refunds(db, order_id) == []
