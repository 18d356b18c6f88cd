"""The dashboard in Chromium: an owner logs in and sees the figures of a known
history, the chart drawn (its canvas is not blank) without a script or
style refused by the Content-Security-Policy, at desktop and phone width;
screenshots into test-screenshots/ (from the SQLite run)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.simulator.testing import RunningSimulator, running_simulator
from smmpanel.staff.service import add_staff
from tests.payments.conftest import fake_gateway, fake_installed
from tests.payments.fakes import FakeGateway
from tests.web.admin.dashboard_history import make_history
from tests.web.conftest import PASSWORD
from tests.web.test_browser import (
    CHROMIUM,
    SCREENSHOTS,
    WIDTHS,
    chromium,
    fill_and_submit,
    pytestmark,
)

if CHROMIUM is not None:
    from playwright.sync_api import Browser, Page

__all__ = ["chromium", "fake_gateway", "fake_installed", "pytestmark"]

# Pixels of the canvas that are not transparent: a drawn chart has thousands.
PAINTED = """(canvas) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) painted += 1; }
  return painted;
}"""


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(manual_clock=True) as running:
        yield running


def drawn_chart(page: Page) -> int:
    page.wait_for_selector("#dashboard-chart[data-drawn=yes]", timeout=15_000)
    painted: int = page.eval_on_selector("#dashboard-chart", PAINTED)
    return painted


def test_the_dashboard_in_chromium(
    db: Database,
    web_url: str,
    chromium: Browser,
    sim: RunningSimulator,
    fake_gateway: type[FakeGateway],
) -> None:
    make_history(db, sim)
    add_staff(db, username="olga", role="owner", password=PASSWORD, actor=Actor("cli", "t"))
    page = chromium.new_page(base_url=web_url)
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text))
    page.goto("/admin/login")
    fill_and_submit(page, {"username": "olga", "password": PASSWORD})
    page.wait_for_url("**/admin/")

    # Today, as the hand-computed history says (tests/web/admin/test_dashboard.py).
    assert page.inner_text("#fig-orders") == "6"
    assert page.inner_text("#fig-revenue") == "6.70000"
    assert page.inner_text("#fig-profit") == "4.45000"
    assert "paused" in page.inner_text("#providers")
    assert "provider_paused" in page.inner_text("#alerts")
    stuck_link = page.get_attribute("#wait-stuck a", "href")
    assert stuck_link is not None and stuck_link.startswith("/admin/orders?to=")
    assert page.get_attribute("#wait-held a", "href") == "/admin/queues?tab=deposits"

    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto("/admin/?period=30d")  # drawn anew for the width
        assert drawn_chart(page) > 2_000, label
        box = page.locator("#dashboard-chart").bounding_box()
        assert box is not None and box["width"] <= width
        assert page.inner_text("#fig-orders") == "8"
        # Nothing wider than the screen (the tables scroll in their own box).
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if db.is_sqlite:
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"admin-dashboard-{label}.png"), full_page=True)
    assert [text for text in refused if "Content Security Policy" in text] == []
    assert [text for text in refused if "error" in text.lower()] == []
