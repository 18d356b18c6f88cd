"""Ordering in a real browser (Playwright driving Debian's Chromium, as
test_browser.py): the htmx pickers and live price, placing a Default, a
drip-feed, a Custom Comments and a Poll order with the price shown equal to
the charge, the orders list, a refill and a cancel, a mass order with one bad
line, injected markup that never runs, and screenshots of every new page."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from smmpanel.accounts.passwords import set_password
from smmpanel.db import Database
from smmpanel.orders.models import COMPLETED, Order
from smmpanel.orders.service import update_order
from tests.factories import make_customer, make_service
from tests.web.conftest import PASSWORD
from tests.web.test_browser import (
    CHROMIUM,
    XSS,
    chromium,
    fill_and_submit,
    pytestmark,
    screenshot,
)

if CHROMIUM is not None:
    from playwright.sync_api import Browser, Page

# The browser fixture and the skip mark are test_browser.py's.
__all__ = ["chromium", "pytestmark"]


def choose(page: Page, service_id: int) -> None:
    """Pick the service in the select: htmx swaps in its facts and form."""
    page.select_option("#service", str(service_id))
    page.wait_for_selector(
        f"#order-form input[name=service][value='{service_id}']", state="attached"
    )


def live_price(page: Page, fields: dict[str, str]) -> str:
    """Type the fields; the price htmx fetches once typing pauses."""
    for name, value in fields.items():
        page.fill(f"#order-form [name={name}]", value)
    page.wait_for_function(
        "() => { const el = document.querySelector('#charge-amount'); return el !== null; }"
    )
    page.wait_for_timeout(700)  # the last keystroke's request (300 ms delay) has answered
    return page.inner_text("#charge-amount")


def place_and_check(page: Page, db: Database, shown: str) -> int:
    page.click("#place")
    page.wait_for_load_state()
    assert "The order is placed." in page.inner_text("main"), page.inner_text("main")
    order_id = int(page.url.split("/orders/")[1].split("?")[0])
    amount, _currency = shown.split()
    with db.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        assert Decimal(amount) * 100_000 == order.charge
    return order_id


def test_ordering_in_the_browser(db: Database, web_url: str, chromium: Browser) -> None:
    default = make_service(
        db, name="Followers", category="Instagram", rate="1.30", dripfeed=True, refill=True
    )
    comments = make_service(
        db, name="Comments", type="Custom Comments", category="Instagram", rate="20", min_quantity=1
    )
    poll = make_service(db, name="Votes", type="Poll", category="Polls", rate="0.70")
    make_customer(db, username="alice", balance="100")
    set_password(db, username="alice", password=PASSWORD)
    page = chromium.new_page(base_url=web_url)
    page.goto("/login")
    fill_and_submit(page, {"username": "alice", "password": PASSWORD})

    page.goto("/order/new")
    # The category narrows the service select (htmx, no reload).
    page.select_option("#category", "Polls")
    page.wait_for_function("() => document.querySelectorAll('#service option').length === 2")
    page.select_option("#category", "")
    page.wait_for_function("() => document.querySelectorAll('#service option').length === 4")
    choose(page, default)
    assert page.inner_text("#rate") == "1.30000 USD"
    assert page.inner_text("#average") == "Not enough data"
    screenshot(page, db, "order-new")
    shown = live_price(page, {"link": "https://example.com/a", "quantity": "1000"})
    assert shown == "1.30000 USD"
    first = place_and_check(page, db, shown)

    page.goto("/order/new")
    choose(page, default)
    shown = live_price(
        page,
        {"link": "https://example.com/drip", "quantity": "200", "runs": "4", "interval": "30"},
    )
    assert shown == "1.04000 USD"  # 200 x 4 at 1.30 per 1000
    drip = place_and_check(page, db, shown)

    page.goto("/order/new")
    choose(page, comments)
    page.fill("#order-form [name=link]", "https://example.com/c")
    lines = ["great post", XSS, "<b>bold</b>"]
    shown = live_price(page, {"comments": "\n".join(lines)})
    assert shown == "0.06000 USD"  # 3 lines at 20 per 1000
    commented = place_and_check(page, db, shown)
    assert page.evaluate("window.__xss") is None
    assert XSS in page.inner_text("#param-comments")

    page.goto("/order/new")
    choose(page, poll)
    # A refusal of the API shows while typing, beside the price.
    page.fill("#order-form [name=link]", "https://example.com/poll")
    page.fill("#order-form [name=answer_number]", "3")
    page.fill("#order-form [name=quantity]", "5")
    page.wait_for_function(
        "() => document.querySelector('#charge-refusal')?.textContent"
        " === 'Quantity less than minimal 10'"
    )
    shown = live_price(page, {"quantity": "500"})
    assert shown == "0.35000 USD"
    voted = place_and_check(page, db, shown)

    page.goto("/orders")
    listed = {
        int(i)
        for i in page.eval_on_selector_all("tr[data-order]", "r => r.map(x => x.dataset.order)")
    }
    assert listed == {first, drip, commented, voted}
    screenshot(page, db, "orders")

    # Completed: its refill button; the drip-feed is active: its cancel button.
    update_order(db, order_id=first, status=COMPLETED, start_count=100, remains=0)
    page.goto("/orders")
    page.click(f"button.refill[data-order='{first}']")
    page.wait_for_load_state()
    assert "The refill is requested." in page.inner_text("main")
    screenshot(page, db, "order")
    page.goto(f"/orders/{drip}")
    page.click("button.cancel")
    page.wait_for_load_state()
    assert "The cancel is requested." in page.inner_text("main")
    page.goto("/refills")
    assert page.locator("tr[data-request]").count() == 1
    screenshot(page, db, "refills")
    page.goto("/cancels")
    assert page.locator("tr[data-request]").count() == 1
    screenshot(page, db, "cancels")

    page.goto("/order/mass")
    page.fill(
        "#orders",
        f"{default} | https://example.com/m1 | 100\n{default} | https://example.com/m2 | 3\n"
        f"{poll} | https://example.com/m3 | 100",
    )
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    results = page.inner_text("#mass-results")
    assert "Placed: 1 of 3; charged 0.13000 USD" in results
    assert "Quantity less than minimal 10" in results
    assert "answer_number: required" in results
    screenshot(page, db, "order-mass")
    with db.read() as session:
        assert len(session.scalars(select(Order).where(Order.parent_id.is_(None))).all()) == 5
    for path in ("/orders", f"/orders/{commented}", "/order/mass", "/refills"):
        page.goto(path)
        assert page.evaluate("window.__xss") is None, path
        assert page.locator("img[src=x]").count() == 0, path


def test_another_customer_gets_404_in_the_browser(
    db: Database, web_url: str, chromium: Browser
) -> None:
    from smmpanel.orders.service import place_order

    service_id = make_service(db)
    alice = make_customer(db, username="alice")
    order_id = place_order(
        db, account_id=alice.id, service_id=service_id, params={"link": "x.com/a", "quantity": "10"}
    ).order_id
    make_customer(db, username="bob")
    set_password(db, username="bob", password=PASSWORD)
    page = chromium.new_page(base_url=web_url)
    page.goto("/login")
    fill_and_submit(page, {"username": "bob", "password": PASSWORD})
    answer = page.goto(f"/orders/{order_id}")
    assert answer is not None and answer.status == 404
    status = page.evaluate(
        f"""() => fetch('/orders/{order_id}/cancel', {{method: 'POST',
              body: new URLSearchParams({{}})}}).then(r => r.status)"""
    )
    assert status == 403  # no CSRF token: refused before anything else
