"""Every action of API v2 and each of its variants, over real HTTP, in the
three transports (PHP-style form POST, JSON POST, GET query string)."""

from __future__ import annotations

import httpx
import pytest

from smmpanel.db import Database
from smmpanel.orders.requests import resolve_cancel, resolve_refill
from smmpanel.orders.service import update_order
from tests.api.helpers import TRANSPORTS, Api, assert_ledger_consistent, balance_text
from tests.factories import Customer, make_customer, make_service

pytestmark = pytest.mark.parametrize("transport", TRANSPORTS)

FOLLOWERS = {
    "service": 1,
    "name": "Followers",
    "type": "Default",
    "rate": "0.90",
    "min": "10",
    "max": "10000",
    "dripfeed": True,
    "refill": True,
    "cancel": True,
    "category": "Instagram",
}
LIKES = {
    "service": 2,
    "name": "Likes",
    "type": "Default",
    "rate": "2",
    "min": "50",
    "max": "5000",
    "dripfeed": False,
    "refill": False,
    "cancel": False,
    "category": "Instagram",
}


def _panel(db: Database) -> Customer:
    make_service(
        db,
        name="Followers",
        rate="0.90",
        min_quantity=10,
        max_quantity=10_000,
        dripfeed=True,
        refill=True,
        cancel=True,
    )
    make_service(db, name="Likes", rate="2", min_quantity=50, max_quantity=5000)
    make_service(
        db,
        name="Auto likes",
        type="Subscriptions",
        category="Auto",
        rate="1",
        min_quantity=10,
        max_quantity=1000,
        enabled=False,
    )
    return make_customer(db)


def _link(n: int) -> str:
    return f"https://instagram.com/p/post{n}"


def test_services(db: Database, http: httpx.Client, transport: str) -> None:
    api = Api(http, _panel(db).key, transport)
    services = api("services")
    # A disabled service is not listed; types and formats exactly as the reference.
    assert services == [FOLLOWERS, LIKES]
    for entry in services:
        assert type(entry["service"]) is int
        assert all(type(entry[k]) is str for k in ("name", "type", "rate", "min", "max"))
        assert all(type(entry[k]) is bool for k in ("dripfeed", "refill", "cancel"))


def test_add_and_single_status(db: Database, http: httpx.Client, transport: str) -> None:
    customer = _panel(db)
    api = Api(http, customer.key, transport)
    placed = api("add", service=1, link=_link(1), quantity=1000)
    assert placed == {"order": 1}
    assert type(placed["order"]) is int
    assert api("status", order=1) == {
        "charge": "0.90000",
        "start_count": "0",
        "status": "Pending",
        "remains": "1000",
        "currency": "USD",
    }
    update_order(db, order_id=1, status="In progress", start_count=3572, remains=157)
    assert api("status", order="1") == {
        "charge": "0.90000",
        "start_count": "3572",
        "status": "In progress",
        "remains": "157",
        "currency": "USD",
    }
    assert api("status", order=2) == {"error": "Incorrect order ID"}
    assert api("status", order="abc") == {"error": "Incorrect order ID"}
    assert balance_text(db, customer.id) == "99.10000"


def test_balance(db: Database, http: httpx.Client, transport: str) -> None:
    customer = make_customer(db, balance="100.84292")
    make_service(db, rate="0.90", min_quantity=1)
    api = Api(http, customer.key, transport)
    assert api("balance") == {"balance": "100.84292", "currency": "USD"}
    api("add", service=1, link=_link(1), quantity=15)  # 0.0135
    assert api("balance") == {"balance": "100.82942", "currency": "USD"}
    assert balance_text(db, customer.id) == "100.82942"


def test_multiple_status(db: Database, http: httpx.Client, transport: str) -> None:
    api = Api(http, _panel(db).key, transport)
    assert api("add", service=1, link=_link(1), quantity=100) == {"order": 1}
    assert api("add", service=2, link=_link(2), quantity=500) == {"order": 2}
    update_order(db, order_id=2, status="Partial", start_count=10, remains=157)
    answer = api("status", orders="1, 2,10,abc")
    assert list(answer) == ["1", "2", "10", "abc"]
    assert answer == {
        "1": {
            "charge": "0.09000",
            "start_count": "0",
            "status": "Pending",
            "remains": "100",
            "currency": "USD",
        },
        "2": {
            "charge": "0.68600",  # what it costs now: 1.00000 less 157 x 2.00 / 1000 refunded
            "start_count": "10",
            "status": "Partial",
            "remains": "157",
            "currency": "USD",
        },
        "10": {"error": "Incorrect order ID"},
        "abc": {"error": "Incorrect order ID"},
    }
    assert api("status", orders="2") == {"2": answer["2"]}


def test_refill_single_and_multiple(db: Database, http: httpx.Client, transport: str) -> None:
    api = Api(http, _panel(db).key, transport)
    for n, service in ((1, 1), (2, 1), (3, 2)):
        assert api("add", service=service, link=_link(n), quantity=100) == {"order": n}
        update_order(db, order_id=n, status="Completed")
    single = api("refill", order=1)
    assert single == {"refill": "1"}  # a string, as the reference panels give it
    assert api("refill", orders="1,2,3,99,x") == [
        {"order": 1, "refill": {"error": "Refill request was sent earlier"}},
        {"order": 2, "refill": 2},
        {"order": 3, "refill": {"error": "Refill is disabled for this service"}},
        {"order": 99, "refill": {"error": "Incorrect order ID"}},
        {"order": "x", "refill": {"error": "Incorrect order ID"}},
    ]
    assert api("refill", order=99) == {"error": "Incorrect order ID"}
    assert api("refill", order=3) == {"error": "Refill is disabled for this service"}

    assert api("refill_status", refill=1) == {"status": "Pending"}
    resolve_refill(db, refill_id=1, status="Completed")
    resolve_refill(db, refill_id=2, status="Rejected")
    assert api("refill_status", refill="1") == {"status": "Completed"}
    assert api("refill_status", refill=7) == {"error": "Refill not found"}
    assert api("refill_status", refills="1, 2,7") == [
        {"refill": 1, "status": "Completed"},
        {"refill": 2, "status": "Rejected"},
        {"refill": 7, "status": {"error": "Refill not found"}},
    ]
    # A closed refill lets a new one be requested.
    assert api("refill", orders="1") == [{"order": 1, "refill": 3}]


def test_cancel_create_and_status(db: Database, http: httpx.Client, transport: str) -> None:
    customer = _panel(db)
    make_service(
        db,
        name="Auto views",
        type="Subscriptions",
        category="Auto",
        rate="1",
        min_quantity=10,
        max_quantity=1000,
    )
    api = Api(http, customer.key, transport)
    assert api("add", service=1, link=_link(1), quantity=1000) == {"order": 1}
    assert api("add", service=1, link=_link(2), quantity=100, runs=3, interval=30) == {"order": 2}
    assert api("add", service=2, link=_link(3), quantity=100) == {"order": 3}
    assert api("add", service=4, username="someone", min=10, max=100) == {"order": 4}
    assert balance_text(db, customer.id) == "98.63000"  # 0.9 + 0.27 + 0.2 + 0

    assert api("cancel", orders="1,2,3,99") == [
        {"order": 1, "type": "order", "cancel": 1},
        {"order": 2, "type": "dripfeed", "cancel": 2},
        {"order": 3, "type": "order", "cancel": {"error": "Cancel is disabled for this service"}},
        {"order": 99, "cancel": {"error": "Incorrect order ID"}},
    ]
    # `order` (one id) answers the same array shape.
    assert api("cancel", order=4) == [{"order": 4, "type": "subscription", "cancel": 3}]
    assert api("cancel", order=1) == [
        {"order": 1, "type": "order", "cancel": {"error": "Cancellation request was sent earlier"}}
    ]

    resolve_cancel(db, cancel_id=1, status="Completed")
    resolve_cancel(db, cancel_id=2, status="Rejected")
    assert api("cancel", cancels="1,2,3,50") == [
        {"cancel": 1, "status": "Completed"},
        {"cancel": 2, "status": "Rejected"},
        {"cancel": 3, "status": "Pending"},
        {"cancel": 50, "status": {"error": "Cancel not found"}},
    ]
    assert api("status", order=1)["status"] == "Canceled"
    assert api("status", order=2)["status"] == "Pending"
    assert balance_text(db, customer.id) == "99.53000"  # order 1 refunded in full
    assert_ledger_consistent(db)


def test_refusals_are_200_json(db: Database, http: httpx.Client, transport: str) -> None:
    customer = _panel(db)
    assert Api(http, "", transport)("balance") == {"error": "Invalid API key"}
    assert Api(http, "not-a-key", transport)("services") == {"error": "Invalid API key"}
    api = Api(http, customer.key, transport)
    for action in ("", "unknown", "refund"):
        answer = api(action)
        assert answer["error"] == "Incorrect request"
        assert isinstance(answer["detail"], str) and answer["detail"]
    # The action is matched ignoring case and surrounding spaces.
    assert api(" Balance ") == {"balance": "100.00000", "currency": "USD"}
    for action, ids in (("status", "orders"), ("refill", "orders"), ("cancel", "orders")):
        answer = api(action, **{ids: " , "})
        assert answer["error"] == "Incorrect request"
    assert api("cancel")["error"] == "Incorrect request"
    assert api("cancel", order="")["error"] == "Incorrect request"
    assert api("cancel", cancels="")["error"] == "Incorrect request"
    assert api("refill_status", refills="")["error"] == "Incorrect request"
