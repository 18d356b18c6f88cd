"""Adding funds in Chromium: a customer pays with the demo gateway (its Pay
button makes the panel post a signed webhook to itself) and sees the balance
change; another starts a manual transfer, sees the instructions and the
reference, and once the owner approves it from the command line the funds page
shows the entry."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from smmpanel.db import Database
from smmpanel.server import serve_in_thread, site_app
from tests.web.conftest import PASSWORD, web_settings
from tests.web.test_browser import CHROMIUM, chromium, fill_and_submit, pytestmark, screenshot
from tests.web.test_browser_account import owner
from tests.web.test_deposit_pages import INSTRUCTIONS, set_up_gateways

if CHROMIUM is not None:
    from playwright.sync_api import Browser, Page

__all__ = ["chromium", "pytestmark"]


@pytest.fixture
def demo_shop(db: Database) -> Iterator[str]:
    set_up_gateways(db)
    with serve_in_thread(site_app(db, web_settings(demo_payments=True))) as url:
        yield url


def sign_up(chromium: Browser, url: str, username: str) -> Page:
    page = chromium.new_page(base_url=url)
    page.goto("/signup")
    fields = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    fill_and_submit(page, fields)
    return page


def start_deposit(page: Page, amount: str, gateway: str) -> None:
    page.goto("/funds/add")
    page.fill("main form [name=amount]", amount)
    page.select_option("main form select[name=gateway]", gateway)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()


def test_a_customer_adds_funds_with_the_demo_gateway(
    db: Database, demo_shop: str, chromium: Browser
) -> None:
    page = sign_up(chromium, demo_shop, "payer")
    page.goto("/funds")
    assert page.inner_text("#balance") == "0.00000 USD"
    page.goto("/funds/add")
    assert "+5% from 100" in page.inner_text("#gateways")
    screenshot(page, db, "add-funds")

    start_deposit(page, "120", "demo")
    assert re.search(r"/funds/demo-pay/\d+$", page.url), page.url
    assert "120.00000 USD" in page.inner_text("#amount")
    screenshot(page, db, "demo-pay")
    page.click("#demo-paid")
    page.wait_for_load_state()
    assert re.search(r"/funds/deposits/\d+$", page.url), page.url
    assert page.inner_text("#state") == "Credited"
    screenshot(page, db, "deposit-paid")

    page.goto("/funds")
    assert page.inner_text("#balance") == "126.00000 USD"  # 120 and the +5% bonus
    ledger = page.inner_text("#ledger")
    assert "Deposit #" in ledger and "Bonus on deposit #" in ledger
    screenshot(page, db, "funds-after-deposit")
    page.goto("/funds/add")
    assert "Credited" in page.inner_text("#deposits")


def test_a_manual_transfer_approved_by_the_owner(
    db: Database, demo_shop: str, chromium: Browser
) -> None:
    page = sign_up(chromium, demo_shop, "sender")
    start_deposit(page, "40", "manual")
    found = re.search(r"/funds/deposits/(\d+)$", page.url)
    assert found, page.url
    deposit_id = found.group(1)
    reference = page.inner_text("#reference")
    assert reference.startswith("D-")
    instructions = page.inner_text("#instructions")
    assert INSTRUCTIONS in instructions and reference in instructions
    assert page.inner_text("#state") == "Awaiting payment"
    screenshot(page, db, "deposit-manual")

    said = owner(db, "deposits", "approve", deposit_id, "--note", "seen on the statement")
    assert f"Deposit {deposit_id} approved" in said
    # No reload: the open deposit's page asks again by itself (htmx).
    page.wait_for_selector('#deposit[data-state="paid"]', timeout=15_000)
    assert page.inner_text("#state") == "Credited"
    assert page.get_attribute("#deposit", "hx-trigger") is None  # and stops asking
    page.goto("/funds")
    assert page.inner_text("#balance") == "40.00000 USD"
    assert f"Deposit #{deposit_id}" in page.inner_text("#ledger")

    # In Russian, the deposit's page too.
    page.click("form[action='/language'] button")
    page.wait_for_load_state()
    page.goto(f"/funds/deposits/{deposit_id}")
    assert page.inner_text("#state") == "Зачислен"
