"""The dashboard over HTTP: every role sees it, nobody else does; the period
links; the figures, the chart's data and alerts as the page shows them
(escaped), in English and Russian."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from smmpanel.accounts.service import set_currency_rate
from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.orders.models import Order
from smmpanel.orders.service import update_order
from smmpanel.panel.alerts import raise_alert
from smmpanel.payments.crediting import apply_gateway_event
from smmpanel.payments.gateway import EventKind
from tests.factories import make_customer, make_order, make_service
from tests.payments.conftest import fake_gateway, fake_installed
from tests.payments.fakes import FakeGateway, event
from tests.payments.helpers import start
from tests.web.admin_helpers import staff_browser

OWNER = Actor("cli", "owner")
__all__ = ["fake_gateway", "fake_installed"]  # fixtures of the payments tests


def figure(page: str, name: str) -> str:
    found = re.search(rf'id="fig-{name}">([^<]*)<', page)
    assert found, name
    return found.group(1)


def chart_data(page: str) -> dict[str, Any]:
    found = re.search(r'data-chart="([^"]*)"', page)
    assert found
    data: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return data


def _history(db: Database) -> None:
    """Today: 2.00 USD charged and kept, 0.80 EUR charged and refunded in part."""
    set_currency_rate(db, code="EUR", rate="0.8", actor=OWNER)
    alice = make_customer(db, "alice")
    bob = make_customer(db, "bob", currency="EUR")
    service = make_service(db, rate="2.00")
    update_order(db, order_id=make_order(db, alice, service, quantity=1000), status="Completed")
    bobs = make_order(db, bob, service, quantity=500, link="https://x.com/b")
    update_order(db, order_id=bobs, status="Partial", remains=100)  # 0.80 - 0.16 EUR
    with db.write() as session:
        raise_alert(session, kind="stale_orders", subject="up", message="<script>x</script> late")


@pytest.mark.parametrize("role", ["owner", "manager", "support"])
def test_every_role_sees_the_figures(db: Database, browser_factory: Any, role: str) -> None:
    _history(db)
    browser = staff_browser(db, browser_factory, role=role)
    page = browser.get("/admin/")
    assert page.status_code == 200
    text = page.text
    assert figure(text, "orders") == "2"
    assert figure(text, "revenue") == "2.80000"  # 2.00 USD + 0.64 EUR / 0.8
    assert (figure(text, "cost"), figure(text, "profit")) == ("0.00000", "2.80000")
    assert (figure(text, "deposits"), figure(text, "customers")) == ("0.00000", "2")
    assert "Revenue: 0.64000 EUR, 2.00000 USD" in " ".join(text.split())  # per currency
    assert 'data-status="Partial">1<' in text and 'data-status="Completed">1<' in text
    data = chart_data(text)
    assert len(data["days"]) == 30 and data["orders"][-1] == 2
    assert (data["revenue"][-1], data["profit"][-1]) == ("2.80000", "2.80000")
    assert "&lt;script&gt;x&lt;/script&gt; late" in text and "<script>x" not in text
    assert '<script src="/static/js/dashboard.js" defer></script>' in text
    assert ("Manage staff" in text) == (role == "owner")  # the role's list, folded


def test_periods_are_chosen_by_links(db: Database, browser_factory: Any) -> None:
    browser = staff_browser(db, browser_factory)
    week = browser.get("/admin/?period=7d").text
    assert '<a href="/admin/?period=7d" aria-current="page">7 days</a>' in week
    odd = browser.get("/admin/?period=%3Cb%3E" + "x" * 5000)
    assert odd.status_code == 200  # an unknown period shows today
    assert '<a href="/admin/?period=today" aria-current="page">Today</a>' in odd.text
    russian = browser.get("/admin/?period=30d", headers={"accept-language": "ru"}).text
    assert "Выручка" in russian and "Последние 30 дней" in russian and "Сегодня" in russian


def test_nobody_else_sees_it(db: Database, browser_factory: Any) -> None:
    anonymous = browser_factory()
    answer = anonymous.get("/admin/?period=30d")
    assert (answer.status_code, answer.headers["location"]) == (303, "/admin/login")
    customer = browser_factory()
    assert customer.sign_up("carol").status_code == 303
    answer = customer.get("/admin/")
    assert (answer.status_code, answer.headers["location"]) == (303, "/admin/login")


def test_the_chart_script_is_served(db: Database, browser_factory: Any) -> None:
    browser = browser_factory()
    script = browser.get("/static/js/dashboard.js")
    assert script.status_code == 200 and "dashboard-chart" in script.text
    assert browser.get("/static/vendor/chartjs/chart.umd.min.js").status_code == 200
    assert ".dashboard-figures" in browser.get("/static/css/dashboard.css").text


def wait_row(page: str, key: str) -> str:
    found = re.search(rf'<li id="wait-{key}"[^>]*>(.*?)</li>', page, re.S)
    assert found, key
    return " ".join(found.group(1).split())


def test_what_waits_links_where_the_role_handles_it(
    db: Database,
    browser_factory: Any,
    fake_gateway: type[FakeGateway],
) -> None:
    carol = make_customer(db, "carol", balance="0")
    held = start(db, carol.id, "30")
    paid = event(EventKind.PAID, held, "29.99", "USD")
    assert apply_gateway_event(db, gateway="fake", event=paid, actor=OWNER).result == "held"
    alice = make_customer(db, "alice")
    old = make_order(db, alice, make_service(db))
    with db.write() as session:  # nothing in the domain ages an order: only its timestamp
        two_days = datetime.now(UTC) - timedelta(days=2)
        session.execute(update(Order).where(Order.id == old).values(updated_at=two_days))

    owner = staff_browser(db, browser_factory, role="owner").get("/admin/").text
    assert wait_row(owner, "held") == (
        '<a href="/admin/queues?tab=deposits">Deposits held</a>: <strong>1</strong>'
    )
    assert wait_row(owner, "stuck").startswith('<a href="/admin/orders?to=')
    assert wait_row(owner, "reconcile") == "Orders needing reconciliation: <strong>0</strong>"
    support = staff_browser(db, browser_factory, role="support").get("/admin/").text
    assert wait_row(support, "held") == "Deposits held: <strong>1</strong>"  # no MOVE_MONEY
    assert wait_row(support, "stuck").startswith('<a href="/admin/orders?to=')
