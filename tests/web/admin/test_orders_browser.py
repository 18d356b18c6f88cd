"""The admin's orders pages in Chromium: a manager logs in, filters the list,
cancels two orders in bulk with the checkboxes and reads the summary, and
opens a forwarded order's page with its upstream calls and ledger.
Screenshots of the list and the detail at 1280 and 390 px go to
test-screenshots/ (ignored by git)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.simulator.testing import RunningSimulator, running_simulator
from smmpanel.staff.service import add_staff
from tests.factories import make_order, make_service
from tests.fulfilment.conftest import make_relay
from tests.web.admin.test_orders_actions import order_of, refunds
from tests.web.conftest import PASSWORD
from tests.web.test_browser import CHROMIUM, chromium, fill_and_submit, pytestmark, screenshot

if CHROMIUM is not None:
    from playwright.sync_api import Browser

__all__ = ["chromium", "pytestmark"]


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(manual_clock=True) as running:
        yield running


def test_the_orders_pages_in_a_browser(
    db: Database, web_url: str, chromium: Browser, sim: RunningSimulator
) -> None:
    relay = make_relay(db, sim)
    by_hand = make_service(db, name="Comments by hand", category="Instagram")
    manual = [
        make_order(db, relay.customer, by_hand, link=f"https://instagram.com/p/{n}")
        for n in range(3)
    ]
    forwarded = relay.order(link="https://x.com/forwarded")
    relay.run()
    add_staff(db, username="mia", role="manager", password=PASSWORD, actor=Actor("cli", "t"))
    page = chromium.new_page(base_url=web_url)
    page.goto("/admin/login")
    fill_and_submit(page, {"username": "mia", "password": PASSWORD})

    page.goto("/admin/orders")
    assert page.locator("#orders tbody tr").count() == 4
    screenshot(page, db, "admin-orders-list")
    page.select_option("#filters [name=forwarding]", "manual")
    page.click("#filters button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#orders tbody tr").count() == 3

    for order_id in manual[:2]:
        page.check(f"#orders input[name=ids][value='{order_id}']")
    page.select_option("#bulk-actions [name=action]", "cancel")
    page.fill("#bulk-actions [name=note]", "out of stock")
    page.click("#bulk-submit")
    page.wait_for_load_state()
    assert "2 done, 0 refused" in page.inner_text("#notice")
    assert "forwarding=manual" in page.url  # back on the same filtered list
    assert [order_of(db, order_id).status for order_id in manual] == [
        "Canceled",
        "Canceled",
        "Pending",
    ]
    assert [len(refunds(db, order_id)) for order_id in manual] == [1, 1, 0]
    assert find_balance_mismatches(db) == []

    page.goto(f"/admin/orders/{forwarded}")
    assert "accepted" in page.inner_text("#calls")
    assert "charge" in page.inner_text("#ledger")
    screenshot(page, db, "admin-order-detail")
