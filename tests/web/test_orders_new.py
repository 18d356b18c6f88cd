"""The new-order and mass-order pages over HTTP: every service type's form, the
live price equal to the charge placed, the API's refusals beside their fields."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from smmpanel.db import Database
from smmpanel.ledger.models import LedgerEntry
from smmpanel.orders.models import Order
from tests.factories import make_service
from tests.web.orders_helpers import CHARGE, VALID, logged_in, order_form, services_of_every_type


def test_every_type_shows_its_fields_and_charges_what_it_quoted(
    db: Database, browser_factory: Any
) -> None:
    browser, account_id = logged_in(db, browser_factory)
    services = services_of_every_type(db)
    for number, (kind, service_id) in enumerate(services.items()):
        shown = browser.get(f"/order/new?service={service_id}")
        assert shown.status_code == 200, kind
        for name in VALID[kind]:
            assert f'name="{name}"' in shown.text, (kind, name)
        assert ('name="link"' in shown.text) == (kind != "Subscriptions"), kind
        assert ('name="runs"' in shown.text) == (kind in ("Default", "Web Traffic")), kind
        form = order_form(service_id, kind, f"https://example.com/{number}")
        quoted = browser.submit("/order/quote", form, page="/order/new")
        found = CHARGE.search(quoted.text)
        assert found, (kind, quoted.text)
        placed = browser.submit("/order/new", form)
        assert placed.status_code == 303, (kind, placed.text[:3000])
        order_id = int(placed.headers["location"].split("/")[2].split("?")[0])
        with db.read() as session:
            order = session.get(Order, order_id)
            assert order is not None and order.account_id == account_id
            assert Decimal(found.group(1)) * 100000 == order.charge, kind
        page = browser.get(placed.headers["location"])
        assert page.status_code == 200 and "The order is placed." in page.text


def test_dripfeed_charge_is_quantity_times_runs(db: Database, browser_factory: Any) -> None:
    browser, _ = logged_in(db, browser_factory)
    service_id = make_service(db, rate="2.00", min_quantity=10, dripfeed=True)
    form = {
        "service": str(service_id),
        "link": "https://example.com/drip",
        "quantity": "100",
        "runs": "5",
        "interval": "15",
    }
    quoted = browser.submit("/order/quote", form, page="/order/new")
    found = CHARGE.search(quoted.text)
    assert found and found.group(1) == "1.00000"  # 100 x 5 at 2.00 per 1000
    placed = browser.submit("/order/new", form)
    assert placed.status_code == 303
    with db.read() as session:
        order = session.scalars(select(Order).where(Order.runs == 5)).one()
        assert (order.total_quantity, order.charge) == (500, 100_000)
    assert "100 \u00d7 5" in browser.get(placed.headers["location"]).text


def test_refusals_show_beside_their_field(db: Database, browser_factory: Any) -> None:
    browser, _ = logged_in(db, browser_factory, balance="0.01")
    services = services_of_every_type(db)
    default = str(services["Default"])
    cases = [
        ({"service": default, "link": "not a link", "quantity": "100"}, "link", "Incorrect link"),
        (
            {"service": default, "link": "https://x.com/a", "quantity": "0"},
            "quantity",
            "Quantity less than minimal 1",
        ),
        (
            {"service": default, "link": "https://x.com/a", "quantity": "99999"},
            "quantity",
            "Quantity more than maximum 10000",
        ),
        (
            {"service": default, "link": "https://x.com/a", "quantity": "ten"},
            "quantity",
            "quantity: a whole number",
        ),
        (
            {"service": default, "link": "https://x.com/a", "quantity": "10", "runs": "3"},
            "interval",
            "interval: 1 to 43200 minutes with runs",
        ),
        (
            {"service": str(services["Poll"]), "link": "https://x.com/a", "quantity": "10"},
            "answer_number",
            "answer_number: required",
        ),
        (
            {"service": str(services["Custom Comments"]), "link": "https://x.com/a"},
            "comments",
            "comments: one or more lines required",
        ),
        (
            {"service": str(services["Subscriptions"]), "username": "u", "min": "5", "max": "2"},
            "min",
            "min: must not exceed max",
        ),
        (
            {
                "service": str(services["Subscriptions"]),
                "username": "u",
                "min": "1",
                "max": "2",
                "delay": "7",
            },
            "delay",
            "delay: one of",
        ),
        (
            {
                "service": str(services["Web Traffic"]),
                "link": "https://x.com/a",
                "quantity": "10",
                "type_of_traffic": "2",
            },
            "referring_url",
            "referring_url: required when type_of_traffic is 2",
        ),
    ]
    for form, field, message in cases:
        answer = browser.submit("/order/new", form, page="/order/new")
        assert answer.status_code == 400, (form, answer.text[:500])
        assert f'id="error-{field}">{message}' in answer.text, (field, answer.text[-4000:])
        quoted = browser.submit("/order/quote", form, page="/order/new")
        assert message in quoted.text and f'data-field="{field}"' in quoted.text
    poor = browser.submit(
        "/order/new", {"service": default, "link": "https://x.com/a", "quantity": "1000"}
    )
    assert poor.status_code == 400 and "Not enough funds on balance" in poor.text
    unknown = browser.submit("/order/new", {"service": "999999", "link": "https://x.com/a"})
    assert unknown.status_code == 400 and "Choose a service." in unknown.text
    with db.read() as session:
        assert session.scalars(select(Order)).all() == []


def test_refusals_in_russian(db: Database, browser_factory: Any) -> None:
    browser, _ = logged_in(db, browser_factory, balance="0.01")
    service_id = make_service(db)
    browser.submit("/language", {"language": "ru"}, page="/")
    form = {"service": str(service_id), "link": "https://x.com/a", "quantity": "10000"}
    answer = browser.submit("/order/new", form)
    assert "Недостаточно средств на балансе" in answer.text
    assert "Новый заказ" in browser.get("/order/new").text


def test_picking_a_service_by_category_and_search(db: Database, browser_factory: Any) -> None:
    browser, _ = logged_in(db, browser_factory)
    likes = make_service(db, name="Likes", category="Instagram", description="Real <b>likes</b>")
    views = make_service(db, name="Views", category="YouTube")
    page = browser.get("/order/new?category=YouTube").text
    assert f'value="{views}"' in page and f'value="{likes}"' not in page
    only = browser.get("/order/new?q=likes").text
    assert 'id="service-name">Likes<' in only  # the one match is chosen
    assert "Real &lt;b&gt;likes&lt;/b&gt;" in only
    assert "Not enough data" in only


def test_mass_order_places_each_line_on_its_own(db: Database, browser_factory: Any) -> None:
    browser, account_id = logged_in(db, browser_factory, balance="1")
    service_id = make_service(db, rate="1.00", min_quantity=10)
    lines = [
        f"{service_id} | https://example.com/1 | 100",
        "not | a line",
        f"{service_id} | https://example.com/2 | 5",
        "",
        "999999 | https://example.com/3 | 100",
        f"{service_id} | https://example.com/4 | 200",
        f"{service_id} | <script>alert(1)</script> | 100",
        f"{service_id} | https://example.com/5 | 900",
    ]
    answer = browser.submit("/order/mass", {"orders": "\n".join(lines)})
    assert answer.status_code == 200, answer.text[:2000]
    text = answer.text
    assert "Placed: 3 of 7; charged 0.40000 USD" in text
    assert "a line is: service_id | link | quantity" in text
    assert "Quantity less than minimal 10" in text
    assert "Incorrect service ID" in text
    # A bare link may be any text without spaces (the API takes it): shown escaped.
    assert "&lt;script&gt;alert(1)" in text and "<script>alert" not in text
    assert "Not enough funds on balance" in text  # line 8: 0.90 with 0.60 left
    with db.read() as session:
        orders = session.scalars(select(Order).order_by(Order.id)).all()
        assert [o.quantity for o in orders] == [100, 200, 100]
        charges = session.scalars(
            select(LedgerEntry.amount).where(LedgerEntry.account_id == account_id)
        ).all()
        assert sum(charges) == 100_000 - 40_000


def test_mass_order_limits(db: Database, browser_factory: Any) -> None:
    browser, _ = logged_in(db, browser_factory)
    empty = browser.submit("/order/mass", {"orders": "  \n "})
    assert empty.status_code == 400 and "Give 1 to 500 orders" in empty.text
    many = browser.submit("/order/mass", {"orders": "1 | x | 10\n" * 501})
    assert many.status_code == 400
    with db.read() as session:
        assert session.scalars(select(Order)).all() == []


def test_every_field_label_is_translated_to_russian() -> None:
    from smmpanel.web import i18n
    from smmpanel.web.order_fields import LABELS

    i18n.use_language("ru")
    try:
        untranslated = [label for label in LABELS.values() if i18n.gettext_(label) == label]
    finally:
        i18n.use_language("en")
    assert untranslated == []
