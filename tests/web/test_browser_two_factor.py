"""Two-factor authentication in a real browser (the harness of test_browser.py):
set it up reading the key from the page, compute codes as a phone would, log
out, log in with a code.  Screenshots go to test-screenshots/."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pyotp

from smmpanel.accounts.two_factor import current_code
from smmpanel.db import Database
from smmpanel.timeutil import utcnow
from tests.web.conftest import PASSWORD
from tests.web.test_browser import chromium as chromium  # the fixture
from tests.web.test_browser import fill_and_submit, pytestmark, screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Browser

__all__ = ["pytestmark"]


def test_two_factor_flow(db: Database, web_url: str, chromium: Browser) -> None:
    page = chromium.new_page(base_url=web_url)
    page.goto("/signup")
    fill_and_submit(page, {"username": "zoe", "email": "zoe@example.com", "password": PASSWORD})
    page.goto("/account")
    page.click("#two-factor-link")
    page.wait_for_load_state()
    assert "Off" in page.inner_text("#two-factor-state")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("figure.qr svg").count() == 1
    secret = page.inner_text("#totp-secret")
    screenshot(page, db, "two-factor-setup")
    page.fill("form[action='/account/2fa/confirm'] [name=password]", PASSWORD)
    page.fill("form[action='/account/2fa/confirm'] [name=code]", pyotp.TOTP(secret).now())
    page.click("form[action='/account/2fa/confirm'] button[type=submit]")
    page.wait_for_load_state()
    assert "On:" in page.inner_text("#two-factor-state")
    screenshot(page, db, "two-factor-on")

    page.click("#logout")
    page.wait_for_load_state()
    page.goto("/login")
    fill_and_submit(page, {"username": "zoe", "password": PASSWORD})
    assert page.url.endswith("/login/code")
    screenshot(page, db, "login-code")
    # The confirming code's step is used: the next one, still in the window.
    fill_and_submit(page, {"code": current_code(secret, utcnow() + timedelta(seconds=30))})
    assert page.inner_text("h1") == "Hello, zoe"

    page.click("#logout")
    page.wait_for_load_state()
    page.goto("/login")
    page.click("#forgot")
    page.wait_for_load_state()
    assert page.url.endswith("/reset")
    screenshot(page, db, "forgot-password")
