"""The owner runs the panel from a browser, end to end, in Chromium: logs in
with two-factor authentication, imports a simulator provider's services at a
30% markup (preview, then apply), funds a customer who orders in the shop,
sees the order on the dashboard and its chart, bulk-cancels three orders
(refunded once each), approves a refill, answers a ticket and grants extended
API fields (the customer's `services` answer then carries them), and finds
every one of these actions in the audit log under their own name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from smmpanel.accounts import two_factor
from smmpanel.accounts.service import rotate_api_key
from smmpanel.accounts.two_factor import current_code
from smmpanel.audit.models import Actor
from smmpanel.catalog.models import Service, ServiceSource
from smmpanel.db import Database
from smmpanel.ledger.models import LedgerEntry
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.orders.models import Order, Refill
from smmpanel.orders.requests import request_refill
from smmpanel.orders.service import place_order, update_order
from smmpanel.providers.models import Provider
from smmpanel.simulator.testing import RunningSimulator, running_simulator
from smmpanel.staff.service import add_staff
from smmpanel.support.service import open_ticket
from smmpanel.timeutil import utcnow
from tests.factories import make_provider, make_service
from tests.web.admin.test_dashboard_browser import PAINTED
from tests.web.conftest import PASSWORD
from tests.web.test_browser import CHROMIUM, chromium, fill_and_submit, pytestmark, screenshot
from tests.web.test_browser_journey import quoted_price
from tests.web.test_orders_browser import choose, place_and_check

if CHROMIUM is not None:
    from playwright.sync_api import Browser, Page

__all__ = ["chromium", "pytestmark"]


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(manual_clock=True) as running:
        yield running


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The clock two-factor codes are checked against (the server runs in this
    process), so the test can move to the next 30-second step instead of waiting."""
    now = [utcnow()]
    monkeypatch.setattr(two_factor, "utcnow", lambda: now[0])
    return now


def log_in_with_two_factor(page: Page, clock: list[Any]) -> None:
    page.goto("/admin/login")
    fill_and_submit(page, {"username": "olga", "password": PASSWORD})
    page.wait_for_url("**/admin/")
    page.click("nav a[href='/admin/security']")
    page.click("form[action='/admin/security/begin'] button[type=submit]")
    secret = page.inner_text("#totp-secret")
    page.fill("form[action='/admin/security/confirm'] [name=password]", PASSWORD)
    page.fill("form[action='/admin/security/confirm'] [name=code]", current_code(secret, clock[0]))
    page.click("form[action='/admin/security/confirm'] button[type=submit]")
    page.wait_for_url("**/admin/security?done=on")
    page.click("#logout")
    fill_and_submit(page, {"username": "olga", "password": PASSWORD})
    page.wait_for_url("**/admin/login/code")
    clock[0] += timedelta(seconds=30)  # the confirming code is used: the next one
    fill_and_submit(page, {"code": current_code(secret, clock[0])})
    page.wait_for_url("**/admin/")


def import_at_thirty_percent(page: Page, db: Database, provider_id: int) -> int:
    """Preview, then apply; returns our service that upstream service 1 became."""
    page.goto(f"/admin/providers/{provider_id}")
    page.click("#catalog")
    page.wait_for_url(f"**/admin/providers/{provider_id}?done=catalog*")
    page.click("#import")
    page.fill("#markup_percent", "30")
    page.select_option("#category", "Instagram Followers")
    page.click("#preview")
    page.wait_for_selector("#planned")
    assert "1.17000" in page.inner_text("#planned")  # 0.90 x 1.30
    with db.read() as session:
        assert session.scalar(select(Service.id)) is None  # the preview wrote nothing
    page.click("#apply")
    page.wait_for_url(f"**/admin/providers/{provider_id}?done=imported*")
    with db.read() as session:
        service_id, rate = session.execute(
            select(Service.id, Service.rate)
            .join(ServiceSource, ServiceSource.service_id == Service.id)
            .where(ServiceSource.upstream_service_id == "1")
        ).one()
    assert rate == 117_000
    return int(service_id)


def shop_order(shop: Page, db: Database, service_id: int) -> int:
    shop.goto("/order/new")
    choose(shop, service_id)
    shown = quoted_price(shop, {"link": "https://instagram.com/journey", "quantity": "1000"})
    assert shown == "1.17000 USD"
    return place_and_check(shop, db, shown)


def refunds(db: Database, order_id: int) -> list[int]:
    with db.read() as session:
        return list(
            session.scalars(
                select(LedgerEntry.amount).where(
                    LedgerEntry.order_id == order_id, LedgerEntry.kind == "refund"
                )
            )
        )


def services_answer(web_url: str, key: str) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = httpx.post(
        f"{web_url}/api/v2", data={"key": key, "action": "services"}
    ).json()
    return answer


def test_an_owner_runs_the_panel_from_a_browser(
    db: Database, web_url: str, chromium: Browser, sim: RunningSimulator, clock: list[Any]
) -> None:
    add_staff(db, username="olga", role="owner", password=PASSWORD, actor=Actor("cli", "t"))
    make_provider(db, sim, "sim")
    with db.read() as session:
        provider_id = session.scalar(select(Provider.id).where(Provider.name == "sim"))
    assert provider_id is not None
    admin = chromium.new_page(base_url=web_url)
    log_in_with_two_factor(admin, clock)

    service_id = import_at_thirty_percent(admin, db, provider_id)

    # A customer signs up in the shop; the owner funds them from the admin.
    shop = chromium.new_page(base_url=web_url)  # a context of its own: its own cookies
    shop.goto("/signup")
    fill_and_submit(shop, {"username": "carol", "email": "c@example.com", "password": PASSWORD})
    admin.goto("/admin/customers")
    admin.fill("#customer-search", "carol")
    admin.press("#customer-search", "Enter")
    admin.wait_for_load_state()
    admin.click("#customers a:has-text('carol')")
    admin.wait_for_url("**/admin/customers/*")
    customer_id = int(re.findall(r"/admin/customers/(\d+)", admin.url)[0])
    admin.fill("form[action$='/fund'] [name=amount]", "20")
    admin.fill("form[action$='/fund'] [name=note]", "bank transfer 42")
    admin.click("form[action$='/fund'] button[type=submit]")
    admin.wait_for_url("**?done=funded*")
    order_id = shop_order(shop, db, service_id)

    # The dashboard counts the order and its revenue; the chart is drawn.
    admin.goto("/admin/")
    assert admin.inner_text("#fig-orders") == "1"
    assert admin.inner_text("#fig-revenue") == "1.17000"
    admin.wait_for_selector("#dashboard-chart[data-drawn=yes]", timeout=15_000)
    assert admin.eval_on_selector("#dashboard-chart", PAINTED) > 2_000
    screenshot(admin, db, "journey-dashboard")

    # Three orders by hand, cancelled together: each refunded once.
    by_hand = make_service(db, name="Comments by hand", category="Instagram", rate="1.00")
    cancelled = [
        place_order(
            db,
            account_id=customer_id,
            service_id=by_hand,
            params={"link": f"https://instagram.com/p/{n}", "quantity": "100"},
        ).order_id
        for n in range(3)
    ]
    admin.goto("/admin/orders")
    screenshot(admin, db, "journey-orders")
    for cancelled_id in cancelled:
        admin.check(f"#orders input[name=ids][value='{cancelled_id}']")
    admin.select_option("#bulk-actions [name=action]", "cancel")
    admin.fill("#bulk-actions [name=note]", "out of stock")
    admin.click("#bulk-submit")
    admin.wait_for_load_state()
    assert "3 done, 0 refused" in admin.inner_text("#notice")
    assert [refunds(db, cancelled_id) for cancelled_id in cancelled] == [[10_000]] * 3
    admin.goto(f"/admin/orders/{order_id}")
    assert "charge" in admin.inner_text("#ledger")
    screenshot(admin, db, "journey-order-detail")

    # A completed order's refill, approved from the queue.
    refillable = make_service(db, name="Followers by hand", category="Instagram", refill=True)
    completed = place_order(
        db,
        account_id=customer_id,
        service_id=refillable,
        params={"link": "https://instagram.com/refill", "quantity": "100"},
    ).order_id
    update_order(db, order_id=completed, status="Completed")
    refill_id = request_refill(db, account_id=customer_id, order_id=completed)
    admin.goto("/admin/queues?tab=refills")
    admin.check(f'input[name=id][value="{refill_id}"]')
    admin.click("#bulk-approve")
    admin.wait_for_load_state()
    with db.read() as session:
        refill = session.get(Refill, refill_id)
        assert refill is not None and refill.status == "Completed"

    # A ticket answered, and extended API fields granted from it.
    key = rotate_api_key(db, username="carol")
    assert "desc" not in services_answer(web_url, key)[0]
    ticket = open_ticket(db, account_id=customer_id, subject_kind="api", message="Extended?")
    admin.goto("/admin/tickets")
    screenshot(admin, db, "journey-tickets")
    admin.click(f"#tickets a[href='/admin/tickets/{ticket}']")
    admin.fill("#answer textarea[name=message]", "Turning them on for you.")
    admin.click("#answer form[action$='/answer'] button[type=submit]")
    admin.wait_for_load_state()
    admin.click("form[action$='/grant/extended'] button")
    admin.wait_for_load_state()
    assert admin.inner_text("#extended-state") == "on"
    assert "desc" in services_answer(web_url, key)[0]

    # The audit log names olga for each of these actions.
    admin.goto("/admin/audit?actor=staff:olga")
    trail = admin.inner_text("main")
    for action in (
        "staff_two_factor_on",
        "staff_logged_in",
        "service_created",
        "account_funded",
        "order_resolved_by_hand",
        "refill_resolved_by_hand",
        "ticket_replied",
        "account_changed",
    ):
        assert action in trail, action
    with db.read() as session:
        charge = session.get(Order, order_id)
        assert charge is not None and Decimal(charge.charge) == 117_000
    assert find_balance_mismatches(db) == []
