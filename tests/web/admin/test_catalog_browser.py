"""The catalog page in Chromium: the arrows move a category in place with htmx
(the page is not reloaded) and still work as plain form posts without
JavaScript; ticking three services and applying *disable* changes all three.
Screenshots of the catalog at desktop and phone width (SQLite run)."""

from __future__ import annotations

from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.staff.service import add_staff
from tests.factories import make_service
from tests.web.admin.catalog_helpers import category_id, category_order, stored
from tests.web.conftest import PASSWORD
from tests.web.test_browser import CHROMIUM, chromium, pytestmark, screenshot

if CHROMIUM is not None:
    from playwright.sync_api import Browser, Page, expect

__all__ = ["chromium", "pytestmark"]


def logged_in(chromium: Browser, web_url: str, *, javascript: bool = True) -> Page:
    page = chromium.new_context(base_url=web_url, java_script_enabled=javascript).new_page()
    page.goto("/admin/login")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/admin/")
    return page


def test_arrows_with_htmx_and_without_javascript(
    db: Database, web_url: str, chromium: Browser
) -> None:
    add_staff(db, username="olga", role="manager", password=PASSWORD, actor=Actor.cli())
    ids = [make_service(db, name=f"{name} service", category=name) for name in "ABC"]
    a = category_id(db, "A")
    page = logged_in(chromium, web_url)
    page.goto("/admin/catalog")
    page.evaluate("window.__kept = true")  # gone if the page were reloaded
    page.click(f"#category-{a} button.down")
    headings = page.locator("section.category h2")
    expect(headings).to_have_text(["B", "A", "C"])
    assert category_order(db) == ["B", "A", "C"]
    assert page.evaluate("window.__kept") is True and page.url.endswith("/admin/catalog")
    # The swapped-in list posts again (its CSRF token came with it).
    page.click(f"#category-{a} button.down")
    expect(headings).to_have_text(["B", "C", "A"])
    assert category_order(db) == ["B", "C", "A"]

    for service_id in ids:
        page.check(f"#service-{service_id} input[name=service]")
    page.select_option("#bulk select[name=action]", "disable")
    page.click("#bulk-apply")
    page.wait_for_url("**/admin/catalog?done=bulk")
    assert [stored(db, i).enabled for i in ids] == [False] * 3
    screenshot(page, db, "admin-catalog")
    page.goto(f"/admin/catalog/services/{ids[0]}")
    assert page.input_value("input[name=rate]") == "0.90"
    screenshot(page, db, "admin-catalog-service")
    page.goto("/admin/catalog/services/new")
    page.select_option("select[name=type]", "Package")
    expect(page.locator("#type-hint")).to_contain_text("a whole package")

    plain = logged_in(chromium, web_url, javascript=False)
    plain.goto("/admin/catalog")
    plain.click(f"#category-{a} button.up")
    plain.wait_for_url(f"**/admin/catalog?done=moved#category-{a}")
    assert category_order(db) == ["B", "A", "C"]
    assert "Category moved." in plain.inner_text("main")
