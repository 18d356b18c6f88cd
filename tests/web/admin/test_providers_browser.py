"""The providers section in Chromium: a manager logs in, adds a provider
through the form, reads its catalogue, previews an import with a 30% markup,
unticks one service and imports the rest; then a price change upstream shows
in the price-sync report and one click applies it."""

from __future__ import annotations

from sqlalchemy import select

from smmpanel.audit.models import Actor
from smmpanel.catalog.models import Service, ServiceSource
from smmpanel.db import Database
from smmpanel.simulator.testing import RunningSimulator
from smmpanel.staff.service import add_staff
from tests.web.admin.test_providers import sim
from tests.web.conftest import PASSWORD
from tests.web.test_browser import CHROMIUM, chromium, pytestmark, screenshot

if CHROMIUM is not None:
    from playwright.sync_api import Browser

__all__ = ["chromium", "pytestmark", "sim"]


def rates(db: Database) -> dict[str, int]:
    """upstream id -> our rate of each imported service."""
    with db.read() as session:
        rows = session.execute(
            select(ServiceSource.upstream_service_id, Service.rate).join(
                Service, Service.id == ServiceSource.service_id
            )
        ).all()
    return {upstream: rate for upstream, rate in rows}


def test_add_import_and_reprice_in_a_browser(
    db: Database, web_url: str, chromium: Browser, sim: RunningSimulator
) -> None:
    add_staff(db, username="mia", role="manager", password=PASSWORD, actor=Actor("cli", "t"))
    page = chromium.new_page(base_url=web_url)
    page.goto("/admin/login")
    page.fill("main form [name=username]", "mia")
    page.fill("main form [name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/admin/")

    page.click("nav a[href='/admin/providers']")
    page.click("#add-provider")
    page.fill("#provider-form [name=name]", "up")
    page.fill("#provider-form [name=api_url]", sim.api_url)
    page.fill("#provider-form [name=api_key]", sim.key)
    page.click("#provider-form button[type=submit]")
    page.wait_for_url("**/admin/providers/1?done=added")
    assert sim.key not in page.content()

    page.click("#catalog")
    page.wait_for_url("**/admin/providers/1?done=catalog*")
    assert page.is_visible("#upstream-1")
    page.click("#import")
    page.fill("#markup_percent", "30")
    page.select_option("#category", "Instagram Mentions")
    page.click("#preview")
    page.wait_for_selector("#planned")
    screenshot(page, db, "admin-providers-import-preview")
    shown = page.inner_text("#planned")
    assert "5.20000" in shown and "6.50000" in shown  # 4.00 and 5.00 x 1.30
    ids = [box.get_attribute("value") or "" for box in page.query_selector_all("#planned input")]
    assert ids[:2] == ["9", "10"] and len(ids) > 2 and rates(db) == {}
    page.uncheck(f"#planned-{ids[-1]} input")
    page.click("#apply")
    page.wait_for_url("**/admin/providers/1?done=imported*")
    assert sorted(rates(db)) == sorted(ids[:-1]) and rates(db)["9"] == 520_000
    assert page.is_visible("#mappings")
    screenshot(page, db, "admin-provider")

    sim.control.catalog(service=9, rate="4.20")
    page.goto("/admin/providers/prices")
    page.click("#check")
    page.wait_for_url("**/admin/providers/prices?done=checked")
    service_id = page.get_attribute("#changed tbody tr", "id")
    assert service_id is not None
    screenshot(page, db, "admin-providers-prices")
    page.click(f"#apply-{service_id.removeprefix('changed-')}")
    page.wait_for_url("**/admin/providers/prices?done=one")
    assert page.is_visible("#no-changes") and rates(db)["9"] == 546_000  # 4.20 x 1.30
