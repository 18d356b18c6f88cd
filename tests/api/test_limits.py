"""Charges past 64 bits and oversized lists, over real HTTP on both databases:
refused with the contract's answers before anything is written, never a 500."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select, update

from smmpanel.accounts.service import set_currency_rate
from smmpanel.catalog.models import Service
from smmpanel.catalog.service import MAX_QUANTITY
from smmpanel.db import Database
from smmpanel.ledger.models import LedgerEntry
from smmpanel.orders.models import Order
from smmpanel.orders.validation import MAX_LINE_LENGTH, MAX_LINES, MAX_PACKAGE_LINES
from tests.api.helpers import Api, assert_ledger_consistent, balance_text
from tests.factories import make_customer, make_service

LINK = "https://instagram.com/p/limits"
NO_FUNDS = {"error": "Not enough funds on balance"}


def _written(db: Database) -> tuple[int, int]:
    with db.read() as session:
        orders = session.scalar(select(func.count(Order.id))) or 0
        entries = session.scalar(select(func.count(LedgerEntry.id))) or 0
    return orders, entries


def test_a_charge_past_64_bits_is_not_enough_funds(db: Database, http: httpx.Client) -> None:
    """The largest service the bounds allow, sold in the currency with the largest
    exchange rate, drip-fed 1000 times: 10^26 minor units, far past any column.
    It answered HTTP 500 (OverflowError on SQLite, bigint out of range on
    PostgreSQL); no balance can pay it, so it is not enough funds."""
    set_currency_rate(db, code="ZZZ", rate="1000000")
    # One unit costs 10^6 x 10^6 / 1000 = 10^9 ZZZ: this balance pays exactly one.
    customer = make_customer(db, currency="ZZZ", balance="1000000000")
    make_service(db, rate="1000000", min_quantity=1, max_quantity=MAX_QUANTITY, dripfeed=True)
    api = Api(http, customer.key, "json")
    written = _written(db)
    huge = {"service": 1, "link": LINK, "quantity": MAX_QUANTITY, "runs": 1000, "interval": 5}
    assert api("add", **huge) == NO_FUNDS
    assert api("add", **{**huge, "runs": 0}) == NO_FUNDS
    assert _written(db) == written
    assert balance_text(db, customer.id) == "1000000000.00000"
    # Nothing was inserted, not even a rolled-back row: on PostgreSQL that would
    # have used up an order id.
    assert api("add", service=1, link=LINK, quantity=1) == {"order": 1}
    assert balance_text(db, customer.id) == "0.00000"
    assert_ledger_consistent(db)


def test_a_service_stored_before_the_bounds_cannot_overflow(
    db: Database, http: httpx.Client
) -> None:
    """A panel may hold a service saved before max was bounded (max 10^15): the
    issue's own case, quantity 10^15 at a large rate, for an account that cannot pay."""
    customer = make_customer(db, balance="5")
    make_service(db, rate="1000000", min_quantity=1)
    with db.write() as session:
        session.execute(update(Service).values(max_quantity=10**15))
    api = Api(http, customer.key)
    assert api("add", service=1, link=LINK, quantity=10**15) == NO_FUNDS
    assert api("add", service=1, link=LINK, quantity=10**13) == NO_FUNDS
    assert _written(db) == (0, 1)  # the top-up alone
    assert balance_text(db, customer.id) == "5.00000"


def _lines(count: int) -> str:
    return "\n".join(f"c{i}" for i in range(count))


def test_a_comment_package_takes_a_bounded_list(db: Database, http: httpx.Client) -> None:
    """A 99,000-line comment order was accepted for 1.50."""
    customer = make_customer(db, balance="10")
    make_service(db, name="Pack", type="Custom Comments Package", rate="1.5", min_quantity=1)
    api = Api(http, customer.key, "json")
    refused = api("add", service=1, link=LINK, comments=_lines(99_000))
    assert refused == {
        "error": "Incorrect request",
        "detail": f"comments: at most {MAX_PACKAGE_LINES} lines",
    }
    assert _written(db) == (0, 1)
    assert api("add", service=1, link=LINK, comments=_lines(MAX_PACKAGE_LINES)) == {"order": 1}
    assert balance_text(db, customer.id) == "8.50000"


def test_lists_have_a_line_count_and_a_line_length(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db, balance="1000")
    make_service(db, name="C", type="Custom Comments", rate="1", min_quantity=1, max_quantity=10**6)
    make_service(db, name="M", type="Mentions Custom List", rate="1", min_quantity=1)
    make_service(db, name="S", type="SEO", rate="1", min_quantity=1)
    api = Api(http, customer.key, "json")
    too_many = api("add", service=1, link=LINK, comments=_lines(MAX_LINES + 1))
    assert too_many["detail"] == f"comments: at most {MAX_LINES} lines"
    long_line = "y" * (MAX_LINE_LENGTH + 1)
    too_long = api("add", service=2, link=LINK, usernames=f"alice\n{long_line}")
    assert too_long == {
        "error": "Incorrect request",
        "detail": f"usernames: at most {MAX_LINE_LENGTH} characters per line",
    }
    keywords = api("add", service=3, link=LINK, quantity=10, keywords=f"a,{long_line}")
    assert keywords["detail"] == f"keywords: at most {MAX_LINE_LENGTH} characters per line"
    assert _written(db) == (0, 1)
    fits = api("add", service=1, link=LINK, comments=_lines(MAX_LINES))
    assert fits == {"order": 1}
    exactly = api("add", service=2, link=LINK, usernames="y" * MAX_LINE_LENGTH)
    assert exactly == {"order": 2}
    assert_ledger_consistent(db)


def test_the_largest_prices_still_answer_services(db: Database, http: httpx.Client) -> None:
    """`currencies set ZZZ 1e30` made every `services` call of an account in ZZZ
    answer 500; the largest exchange rate times the largest rate answers."""
    set_currency_rate(db, code="ZZZ", rate="1000000")
    customer = make_customer(db, currency="ZZZ", balance="0")
    make_service(db, rate="1000000", min_quantity=1, max_quantity=MAX_QUANTITY)
    (entry,) = Api(http, customer.key)("services")
    assert (entry["rate"], entry["max"]) == ("1000000000000", str(MAX_QUANTITY))
