"""The settings page in Chromium: the owner renames the panel and turns
sign-up off through the page's forms; screenshots at both widths."""

from __future__ import annotations

import pytest

from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.panel.settings import get_setting
from smmpanel.staff.service import add_staff
from tests.web.conftest import PASSWORD
from tests.web.test_browser import CHROMIUM, XSS, chromium, fill_and_submit, screenshot

if CHROMIUM is not None:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH")
__all__ = ["chromium"]


def test_an_owner_changes_settings(db: Database, web_url: str, chromium: Browser) -> None:
    add_staff(db, username="olga", role="owner", password=PASSWORD, actor=Actor("cli", "t"))
    page = chromium.new_page(base_url=web_url)
    page.goto("/admin/login")
    fill_and_submit(page, {"username": "olga", "password": PASSWORD})
    page.goto("/admin/settings")
    name = "form[data-setting=panel_name]"
    page.fill(f"{name} [name=value]", f"Boost{XSS}"[:255])
    page.click(f"{name} button[type=submit]")
    page.wait_for_load_state()
    assert page.inner_text("#done") == "Saved."
    assert page.inner_text("header .brand strong") == f"Boost{XSS}"  # as text
    signup = "form[data-setting=signup]"
    page.select_option(f"{signup} [name=value]", "off")
    page.click(f"{signup} button[type=submit]")
    page.wait_for_load_state()
    with db.read() as session:
        assert get_setting(session, "signup") == "off"
    assert page.evaluate("window.__xss") is None
    screenshot(page, db, "admin-settings")
