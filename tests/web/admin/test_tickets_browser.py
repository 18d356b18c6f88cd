"""The ticket desk in Chromium: the owner filters the inbox, opens a ticket,
inserts a canned answer (the plain form, no script needed) and sends it,
grants the extended fields; text customers typed stays text.  Screenshots of
the inbox and of a ticket at desktop (1280) and phone (390) width."""

from __future__ import annotations

import pytest

from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.staff.service import add_staff
from smmpanel.support.desk import save_canned_answer
from smmpanel.support.queries import ticket_thread
from smmpanel.support.service import open_ticket
from tests.factories import make_customer
from tests.web.conftest import PASSWORD
from tests.web.test_browser import CHROMIUM, XSS, chromium, fill_and_submit, screenshot

if CHROMIUM is not None:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH")
__all__ = ["chromium"]


def test_an_owner_works_through_the_inbox(db: Database, web_url: str, chromium: Browser) -> None:
    alice = make_customer(db)
    bob = make_customer(db, username="bob")
    first = open_ticket(db, account_id=alice.id, subject_kind="order", message="Where is it?")
    asking = open_ticket(db, account_id=bob.id, subject_kind="api", message=XSS)
    save_canned_answer(db, title="Extended fields", body="They are on now.", actor=Actor.system())
    add_staff(db, username="olga", role="owner", password=PASSWORD, actor=Actor("cli", "t"))
    page = chromium.new_page(base_url=web_url)
    page.goto("/admin/login")
    fill_and_submit(page, {"username": "olga", "password": PASSWORD})

    page.goto("/admin/tickets")
    assert page.locator("#tickets tbody tr[data-ticket]").count() == 2
    screenshot(page, db, "admin-tickets")
    page.select_option("#inbox-filters [name=subject]", "api")
    page.click("#inbox-filters button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#tickets tbody tr[data-ticket]").count() == 1
    page.click(f"#tickets a[href='/admin/tickets/{asking}']")
    page.wait_for_load_state()
    assert XSS in page.inner_text("#thread")  # the customer's text, as text

    page.click("#canned-pick button[type=submit]")
    page.wait_for_load_state()
    assert page.input_value("#answer textarea[name=message]").strip() == "They are on now."
    page.click("#answer form[action$='/answer'] button[type=submit]")
    page.wait_for_load_state()
    page.click("form[action$='/grant/extended'] button")
    page.wait_for_load_state()
    assert page.inner_text("#extended-state") == "on"
    assert page.inner_text("#status") == "Answered"
    screenshot(page, db, "admin-ticket")
    bodies = [m.body for m in ticket_thread(db, ticket_id=asking).messages]
    assert bodies[1:] == [
        "They are on now.",
        "Granted: the API's services list now shows you the extended fields.",
    ]
    assert len(ticket_thread(db, ticket_id=first).messages) == 1
    assert page.evaluate("window.__xss") is None
