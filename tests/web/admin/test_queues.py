"""The admin's queues over HTTP: refill and cancel requests (support may decide
them), each listing exactly what waits, decided singly and in bulk (each item
its own transaction, a summary of what was refused), with audit rows naming
the staff member; roles, CSRF and bad input."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from smmpanel.accounts.queries import account_balance
from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.money import to_units
from smmpanel.orders.models import Cancel, Order, Refill
from smmpanel.orders.requests import request_cancel, request_refill, resolve_refill
from smmpanel.orders.service import update_order
from tests.factories import Customer, make_customer, make_order, make_service
from tests.web.admin.queue_helpers import (
    audit_rows,
    counts,
    decide,
    decided,
    listed,
    queue_page,
)
from tests.web.admin_helpers import staff_browser

CLI = Actor("cli", "tests")
CHARGE = to_units("0.09")  # 100 x 0.90 / 1000


def _service(db: Database) -> int:
    return make_service(db, refill=True, cancel=True)


def _refill(db: Database, customer: Customer, service_id: int, n: int) -> int:
    order_id = make_order(db, customer, service_id, link=f"https://x.com/r{n}")
    update_order(db, order_id=order_id, status="Completed", actor=CLI)
    return request_refill(db, account_id=customer.id, order_id=order_id)


def _cancel(db: Database, customer: Customer, service_id: int, n: int) -> tuple[int, int]:
    order_id = make_order(db, customer, service_id, link=f"https://x.com/c{n}")
    cancel_id, _kind = request_cancel(db, account_id=customer.id, order_id=order_id)
    return cancel_id, order_id


def _status(db: Database, model: type[Refill] | type[Cancel] | type[Order], item: int) -> str:
    with db.read() as session:
        found = session.scalar(select(model.status).where(model.id == item))
        assert found is not None
        return str(found)


def test_refills_listed_then_approved_and_rejected_singly_and_in_bulk(
    db: Database, browser_factory: Any
) -> None:
    alice = make_customer(db, "alice")
    service_id = _service(db)
    r1, r2, r3, r4, r5 = (_refill(db, alice, service_id, n) for n in range(5))
    resolve_refill(db, refill_id=r5, status="Rejected", actor=CLI)  # closed: not waiting
    support = staff_browser(db, browser_factory, role="support", username="sam")

    assert listed(support, "refills") == [r1, r2, r3, r4]
    assert counts(queue_page(support, "refills").text) == {"refills": "4", "cancels": "0"}

    page = decided(support, "refills", f"approve:{r1}")
    assert "1 done, 0 refused" in page
    assert _status(db, Refill, r1) == "Completed"

    page = decided(support, "refills", "reject", [r1, r2, r3])
    assert "2 done, 1 refused" in page
    assert f"#{r1}: refill {r1} is Completed already" in page
    assert [_status(db, Refill, r) for r in (r1, r2, r3, r4)] == [
        "Completed",
        "Rejected",
        "Rejected",
        "Pending",
    ]
    assert listed(support, "refills") == [r4]
    assert audit_rows(db, "refill_resolved_by_hand") == [
        ("cli:tests", f"refill:{r5}"),
        ("staff:sam", f"refill:{r1}"),
        ("staff:sam", f"refill:{r2}"),
        ("staff:sam", f"refill:{r3}"),
    ]


def test_cancels_approved_refund_once_and_rejected_keep_the_order(
    db: Database, browser_factory: Any
) -> None:
    alice = make_customer(db, "alice")
    service_id = _service(db)
    (c1, o1), (c2, o2), (c3, o3) = (_cancel(db, alice, service_id, n) for n in range(3))
    start = account_balance(db, alice.id)[0]
    manager = staff_browser(db, browser_factory, role="manager", username="mia")
    assert listed(manager, "cancels") == [c1, c2, c3]

    page = decided(manager, "cancels", "approve", [c1, c2])
    assert "2 done, 0 refused" in page
    assert (_status(db, Order, o1), _status(db, Order, o2)) == ("Canceled", "Canceled")
    assert account_balance(db, alice.id)[0] == start + 2 * CHARGE
    # Approving again refunds nothing more: the request is closed.
    page = decided(manager, "cancels", f"approve:{c1}")
    assert "0 done, 1 refused" in page and f"cancel {c1} is Completed already" in page
    assert account_balance(db, alice.id)[0] == start + 2 * CHARGE

    decided(manager, "cancels", f"reject:{c3}")
    assert (_status(db, Cancel, c3), _status(db, Order, o3)) == ("Rejected", "Pending")
    assert account_balance(db, alice.id)[0] == start + 2 * CHARGE
    assert listed(manager, "cancels") == []
    assert "Nothing waits in this queue." in queue_page(manager, "cancels").text
    assert audit_rows(db, "cancel_resolved_by_hand") == [
        ("staff:mia", f"cancel:{c}") for c in (c1, c2, c3)
    ]
    assert find_balance_mismatches(db) == []


def test_who_may_open_which_queue(db: Database, browser_factory: Any) -> None:
    support = staff_browser(db, browser_factory, role="support", username="sam")
    manager = staff_browser(db, browser_factory, role="manager", username="mia")
    owner = staff_browser(db, browser_factory, role="owner", username="olga")
    assert queue_page(support, "refills").status_code == 200
    for tab in ("deposits", "orders"):
        assert queue_page(support, tab).status_code == 403
        posted = support.http.post(
            f"/admin/queues/{tab}",
            data={"csrf_token": support.token("/admin/queues"), "action": "approve:1"},
        )
        assert posted.status_code == 403
    page = support.get("/admin/queues").text  # the first tab, without the others'
    assert 'id="tab-deposits"' not in page and 'id="tab-orders"' not in page
    assert 'id="queue-refills"' not in page and "Nothing waits in this queue." in page
    for browser in (manager, owner):
        page = browser.get("/admin/queues").text
        assert counts(page) == {"refills": "0", "cancels": "0", "deposits": "0", "orders": "0"}
        for tab in ("refills", "cancels", "deposits", "orders"):
            assert queue_page(browser, tab).status_code == 200
    assert owner.get("/admin/queues?tab=nonsense").status_code == 404

    customer = browser_factory()
    assert customer.sign_up("carol").status_code == 303
    assert customer.get("/admin/queues").headers["location"] == "/admin/login"


def test_a_decision_without_csrf_or_with_bad_input_changes_nothing(
    db: Database, browser_factory: Any
) -> None:
    alice = make_customer(db, "alice")
    refill_id = _refill(db, alice, _service(db), 1)
    owner = staff_browser(db, browser_factory, role="owner", username="olga")
    no_token = owner.http.post(
        "/admin/queues/refills", data={"action": "approve", "id": str(refill_id)}
    )
    assert no_token.status_code == 403
    bad = {
        "approve": ("", "Tick at least one item."),
        "explode": (str(refill_id), "Use the page&#39;s buttons."),
        "approve:x": ("", "Not an item of this queue."),
        "reject:99999999999": ("", "Not an item of this queue."),
    }
    for action, (ids, message) in bad.items():
        answer = decide(owner, "refills", action, [int(ids)] if ids else [])
        assert answer.status_code == 400 and message in answer.text, (action, answer.text[:300])
    many = decide(owner, "refills", "approve", list(range(1, 202)))
    assert many.status_code == 400 and "Too many items at once." in many.text
    missing = decide(owner, "refills", "approve", [999_999])
    assert missing.status_code == 303
    assert "#999999: Refill not found" in queue_page(owner, "refills").text
    assert _status(db, Refill, refill_id) == "Pending"
    assert audit_rows(db, "refill_resolved_by_hand") == []


def test_the_queue_speaks_russian(db: Database, browser_factory: Any) -> None:
    alice = make_customer(db, "alice")
    refill_id = _refill(db, alice, _service(db), 1)
    support = staff_browser(db, browser_factory, role="support", username="sam")
    decided(support, "refills", f"approve:{refill_id}")
    assert decide(support, "refills", f"approve:{refill_id}").status_code == 303
    page = support.get("/admin/queues", headers={"accept-language": "ru"}).text
    assert "Запросы на докрутку" in page and "этой очереди ничего нет." in page
    assert "выполнено: 0, отказано: 1" in page.lower()  # one text, whichever file keeps it
