"""The admin's customers section in Chromium: an owner finds a customer, funds
them through the form, rotates their key and makes a reset link; text the
customer or staff typed is shown as text (no script runs); screenshots of
the list and the page at desktop and phone width."""

from __future__ import annotations

import pytest

from smmpanel.accounts.passwords import reset_target
from smmpanel.accounts.queries import authenticate
from smmpanel.accounts.service import create_account
from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.staff.service import add_staff
from tests.web.conftest import PASSWORD
from tests.web.test_browser import CHROMIUM, XSS, chromium, fill_and_submit, screenshot

if CHROMIUM is not None:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH")
__all__ = ["chromium"]


def post_form(page: Page, form: str, fields: dict[str, str]) -> None:
    for name, value in fields.items():
        page.fill(f"{form} [name={name}]", value)
    page.click(f"{form} button[type=submit]")
    page.wait_for_load_state()


def test_an_owner_funds_a_customer(db: Database, web_url: str, chromium: Browser) -> None:
    alice = create_account(db, username="alice", email=f"a{XSS}@example.com")
    create_account(db, username="bob", email="bob@example.com")
    add_staff(db, username="olga", role="owner", password=PASSWORD, actor=Actor("cli", "t"))
    page = chromium.new_page(base_url=web_url)
    page.goto("/admin/login")
    fill_and_submit(page, {"username": "olga", "password": PASSWORD})

    page.goto("/admin/customers")
    page.fill("#customer-search", "ALI")
    page.click("form[role=search] button")
    page.wait_for_load_state()
    assert page.locator("#customers tbody tr").count() == 1
    screenshot(page, db, "admin-customers")
    page.click(f"#customers a[href='/admin/customers/{alice.id}'] >> nth=0")
    page.wait_for_load_state()
    assert page.inner_text("#customer-name") == "alice"

    post_form(page, "#fund form", {"amount": "25.5", "note": XSS})
    assert page.inner_text("#customer-balance") == "25.50000 USD"
    assert "The balance is changed." in page.inner_text("#done")
    assert XSS in page.inner_text("#customer-ledger")  # the note, as text
    screenshot(page, db, "admin-customer")

    post_form(page, "#fund form", {"amount": "-30", "note": ""})
    assert "Cannot deduct 30.00000 USD" in page.inner_text("#fund")
    assert page.inner_text("#customer-balance") == "25.50000 USD"

    page.click("form[action$='/rotate-key'] button")
    page.wait_for_load_state()
    key = page.inner_text("#api-key")
    assert authenticate(db, key).account_id == alice.id
    post_form(page, "form[action$='/reset-link']", {"hours": "3"})
    token = page.inner_text("#reset-link").rsplit("/reset/", 1)[1]
    assert reset_target(db, token=token) == "alice"
    assert page.evaluate("window.__xss") is None
