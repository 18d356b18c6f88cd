"""The pages in a real browser: Playwright driving Debian's Chromium (./dev test
installs it; SMMPANEL_TEST_BROWSER=skip, or no chromium on PATH, skips these).

Screenshots of every page at desktop (1280 px) and phone (390 px) width go to
test-screenshots/ (ignored by git), from the SQLite run."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from smmpanel.accounts.models import Account
from smmpanel.accounts.passwords import issue_reset_token
from smmpanel.db import Database
from smmpanel.panel.settings import put_setting
from tests.factories import make_service
from tests.web.conftest import PASSWORD

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or os.environ.get("SMMPANEL_TEST_BROWSER") == "skip",
    reason="no chromium on PATH (./dev test installs Debian's) or SMMPANEL_TEST_BROWSER=skip",
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-screenshots"
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
NEW_PASSWORD = "a brand new password"
XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">'

if CHROMIUM is not None:
    from playwright.sync_api import Browser, Page, sync_playwright


@pytest.fixture
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def screenshot(page: Page, db: Database, name: str) -> None:
    """The page at both widths (from the SQLite run only: one set is enough)."""
    if not db.is_sqlite:
        return
    SCREENSHOTS.mkdir(exist_ok=True)
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def fill_and_submit(page: Page, fields: dict[str, str]) -> None:
    for name, value in fields.items():
        page.fill(f"main form [name={name}]", value)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()


def test_account_flow(db: Database, web_url: str, chromium: Browser) -> None:
    make_service(db, name="Instagram Followers")
    page = chromium.new_page(base_url=web_url)
    page.goto("/")
    screenshot(page, db, "home")
    page.goto("/services")
    screenshot(page, db, "services")
    page.goto("/terms")
    screenshot(page, db, "terms")
    page.goto("/signup")
    screenshot(page, db, "signup")
    fill_and_submit(page, {"username": "alice", "email": "alice@example.com", "password": PASSWORD})
    assert page.inner_text("h1") == "Hello, alice"
    assert page.inner_text("#balance") == "0.00000 USD"
    screenshot(page, db, "dashboard")
    page.click("#logout")
    page.wait_for_load_state()
    assert page.locator("#logout").count() == 0
    page.goto("/login")
    screenshot(page, db, "login")
    fill_and_submit(page, {"username": "alice", "password": PASSWORD})
    assert page.inner_text("h1") == "Hello, alice"

    # A second browser (its own cookies) logged in as alice too ...
    other = chromium.new_context(base_url=web_url).new_page()
    other.goto("/login")
    fill_and_submit(other, {"username": "alice", "password": PASSWORD})
    assert other.inner_text("h1") == "Hello, alice"
    # ... is logged out when the first one changes the password.
    page.goto("/account")
    fill_and_submit(page, {"current": PASSWORD, "new": NEW_PASSWORD})
    assert "other sessions are logged out" in page.inner_text("main")
    screenshot(page, db, "account")
    other.goto("/account")
    assert other.url.endswith("/login")

    # A reset link from the owner sets a new password, once.
    token = issue_reset_token(db, username="alice")
    other.goto(f"/reset/{token}")
    screenshot(other, db, "reset")
    fill_and_submit(other, {"password": "reset password 123"})
    assert other.inner_text("h1") == "Hello, alice"
    other.goto(f"/reset/{token}")
    assert "Error 404" in other.inner_text("h1")
    screenshot(other, db, "error-404")

    # The language switch: the pages in Russian, kept on the account.
    page.goto("/account")  # logged out by the reset too
    assert page.url.endswith("/login")
    fill_and_submit(page, {"username": "alice", "password": "reset password 123"})
    page.click("button[name=language][value=ru]")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "Здравствуйте, alice"
    assert page.inner_text("#logout") == "Выйти"
    screenshot(page, db, "dashboard-ru")
    page.goto("/services")
    assert "Цена за 1000" in page.inner_text("thead")
    with db.read() as session:
        assert session.scalar(select(Account.language).where(Account.username == "alice")) == "ru"


def test_post_without_csrf_token_is_403(db: Database, web_url: str, chromium: Browser) -> None:
    page = chromium.new_page(base_url=web_url)
    page.goto("/signup")
    fill_and_submit(page, {"username": "bob", "email": "bob@example.com", "password": PASSWORD})
    status = page.evaluate(
        """() => fetch('/account', {method: 'POST',
              body: new URLSearchParams({current: 'correct horse battery', new: 'xxxxxxxxxx'})})
              .then(r => r.status)"""
    )
    assert status == 403
    page.goto("/")
    assert page.inner_text("h1") == "Hello, bob"


def test_login_throttled_after_bad_passwords(db: Database, web_url: str, chromium: Browser) -> None:
    page = chromium.new_page(base_url=web_url)
    page.goto("/signup")
    fill_and_submit(page, {"username": "carl", "email": "carl@example.com", "password": PASSWORD})
    page.click("#logout")
    page.wait_for_load_state()
    for _ in range(5):
        page.goto("/login")
        fill_and_submit(page, {"username": "carl", "password": "wrong password"})
        assert "wrong username or password" in page.inner_text("main")
    page.goto("/login")
    fill_and_submit(page, {"username": "carl", "password": PASSWORD})
    assert "too many failed logins" in page.inner_text("main")
    screenshot(page, db, "login-throttled")


def test_injected_markup_never_runs(db: Database, web_url: str, chromium: Browser) -> None:
    with db.write() as session:
        put_setting(session, "panel_name", "Panel" + XSS[:200])
        put_setting(session, "terms", XSS)
    make_service(db, name="Followers " + XSS)
    page = chromium.new_page(base_url=web_url)
    page.goto("/signup")
    # The username is refused, and shown back in its field, as text.
    short = "<img src=x onerror=window.__xss=1>"  # the field takes 64 characters
    fill_and_submit(page, {"username": short, "email": "x@example.com", "password": PASSWORD})
    assert page.input_value("[name=username]") == short
    assert page.evaluate("window.__xss") is None
    # The e-mail address takes it: it is shown on the account page.
    email = "<script>window.__xss=1</script>@example.com"
    fill_and_submit(page, {"username": "dora", "email": email, "password": PASSWORD})
    for path in ("/", "/account", "/services", "/terms", "/services?q=" + XSS):
        page.goto(path)
        assert page.evaluate("window.__xss") is None, path
        scripts = page.eval_on_selector_all("script", "nodes => nodes.map(n => n.src)")
        assert all(src.endswith("/static/vendor/htmx/htmx.min.js") for src in scripts), path
        assert page.locator("img[src=x]").count() == 0, path
    page.goto("/account")
    assert page.inner_text("#email") == email
    page.goto("/terms")
    assert XSS in page.inner_text("main")
