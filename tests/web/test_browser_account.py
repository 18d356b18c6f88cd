"""The account-side pages in Chromium: funds after the owner's top-up from the
command line, a ticket answered from the command line, the API page, and
markup in ticket texts that never runs.  Screenshots of each page at 1280 and
390 px go to test-screenshots/ (see test_browser.py)."""

from __future__ import annotations

from playwright.sync_api import Browser

from smmpanel.db import Database
from tests.cli.conftest import invoke
from tests.factories import make_service
from tests.web.conftest import PASSWORD
from tests.web.test_browser import XSS, chromium, fill_and_submit, pytestmark, screenshot

__all__ = ["chromium", "pytestmark"]


def owner(db: Database, *args: str) -> str:
    """`smmpanel ARGS` as the owner runs it; exit 0 expected."""
    result = invoke(["--database-url", db.url, *args])
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result.stdout


def test_funds_tickets_and_api_pages(db: Database, web_url: str, chromium: Browser) -> None:
    make_service(db, name="Instagram Followers")
    page = chromium.new_page(base_url=web_url)
    page.goto("/signup")
    fill_and_submit(page, {"username": "nina", "email": "nina@example.com", "password": PASSWORD})

    # The owner funds the account from the command line: the funds page shows it.
    owner(db, "users", "fund", "nina", "25.5", "--note", "bank transfer 42")
    page.click("nav >> text=Funds")
    page.wait_for_load_state()
    assert page.inner_text("#balance") == "25.50000 USD"
    first_row = page.locator("#ledger tbody tr").first
    assert "25.50000" in first_row.inner_text() and "bank transfer 42" in first_row.inner_text()
    screenshot(page, db, "funds")
    page.goto("/funds/add")
    screenshot(page, db, "add-funds")

    # A ticket, from the add-funds page's link: the owner answers from the command line.
    page.click("#ask")
    page.wait_for_load_state()
    assert page.input_value("select[name=subject]") == "payment"
    screenshot(page, db, "ticket-new")
    page.fill("textarea[name=message]", "Please add 10 USD. " + XSS)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    ticket = page.url.rsplit("/", 1)[1]
    assert XSS in page.inner_text("#thread")
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src=x]").count() == 0
    owner(db, "tickets", "reply", ticket, "Done: 10 USD added. " + XSS)
    page.goto("/tickets")
    assert page.locator(f"tr[data-ticket='{ticket}'] mark.unread").count() == 1
    screenshot(page, db, "tickets")
    page.click(f"tr[data-ticket='{ticket}'] >> text=#{ticket}")
    page.wait_for_load_state()
    owner_message = page.locator("article.message.owner .message-text")
    assert owner_message.inner_text() == "Done: 10 USD added. " + XSS
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src=x]").count() == 0
    screenshot(page, db, "ticket")
    page.goto("/tickets")
    assert page.locator("mark.unread").count() == 0
    assert "ticket_replied" in owner(db, "audit", "list", "--action", "ticket_replied")

    # The API page: a new key, once, after the password; then the documentation.
    page.goto("/account/api")
    screenshot(page, db, "api")
    fill_and_submit(page, {"password": PASSWORD})
    key = page.inner_text("#new-key")
    assert len(key) > 30
    screenshot(page, db, "api-new-key")
    page.goto("/account/api")
    assert key not in page.content()
    page.goto("/api-docs")
    assert "YOUR_API_KEY" in page.inner_text("main") and key not in page.content()
    screenshot(page, db, "api-docs")

    # In Russian too.
    page.click("button[name=language][value=ru]")
    page.wait_for_load_state()
    page.goto("/funds")
    assert page.inner_text("h1") == "Средства"
    screenshot(page, db, "funds-ru")
