"""The queues and the audit log in Chromium: a staff member ticks refill
requests and approves them in bulk, and the audit log shows the decisions
with a hostile note escaped.  Screenshots at desktop and phone width go to
test-screenshots/ (from the SQLite run)."""

from __future__ import annotations

from typing import Any

from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.ledger.funding import fund_account
from smmpanel.orders.requests import request_refill
from smmpanel.orders.service import update_order
from smmpanel.staff.service import add_staff
from tests.factories import make_customer, make_order, make_service
from tests.web.conftest import PASSWORD
from tests.web.test_browser import CHROMIUM, XSS, chromium, fill_and_submit, pytestmark, screenshot

if CHROMIUM is not None:
    from playwright.sync_api import Browser

__all__ = ["chromium", "pytestmark"]
CLI = Actor("cli", "tests")


def _refills(db: Database, count: int) -> list[int]:
    alice = make_customer(db, "alice")
    service_id = make_service(db, refill=True)
    made = []
    for n in range(count):
        order_id = make_order(db, alice, service_id, link=f"https://x.com/b{n}")
        update_order(db, order_id=order_id, status="Completed", actor=CLI)
        made.append(request_refill(db, account_id=alice.id, order_id=order_id))
    fund_account(db, username="alice", amount="1", note=XSS, actor=CLI)
    return made


def test_bulk_approval_in_a_browser(db: Database, web_url: str, chromium: Browser) -> None:
    r1, r2, r3 = _refills(db, 3)
    add_staff(db, username="olga", role="owner", password=PASSWORD, actor=CLI)
    page = chromium.new_page(base_url=web_url)
    page.goto("/admin/login")
    fill_and_submit(page, {"username": "olga", "password": PASSWORD})
    page.goto("/admin/queues")
    assert page.inner_text("#tab-refills").endswith("(3)")
    screenshot(page, db, "admin-queues")

    page.goto("/admin/queues?tab=refills")
    page.check(f'input[name=id][value="{r1}"]')
    page.check(f'input[name=id][value="{r3}"]')
    page.click("#bulk-approve")
    page.wait_for_load_state()
    assert page.inner_text("#summary") == "2 done, 0 refused"
    rows: Any = page.eval_on_selector_all("tr[data-item]", "rows => rows.map(r => r.dataset.item)")
    assert rows == [str(r2)]
    assert page.inner_text("#tab-refills").endswith("(1)")

    page.goto("/admin/audit?action=refill_resolved_by_hand")
    assert page.eval_on_selector_all("tr[data-entry]", "rows => rows.length") == 2
    assert "staff:olga" in page.inner_text("#audit")
    page.goto("/admin/audit")
    assert XSS in page.inner_text("#audit")  # shown as text, never run
    assert page.evaluate("window.__xss") is None
    screenshot(page, db, "admin-audit")
