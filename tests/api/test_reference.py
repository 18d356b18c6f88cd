"""The examples of the API reference, reproduced field for field."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from smmpanel.accounts.service import set_account_options
from smmpanel.db import Database
from smmpanel.orders.requests import request_cancel, resolve_cancel, resolve_refill
from smmpanel.orders.service import place_order, update_order
from tests.api.helpers import Api
from tests.factories import (
    import_reference_catalog,
    make_customer,
    make_service,
    reference_catalog,
)

BASE_KEYS = [
    "service",
    "name",
    "type",
    "rate",
    "min",
    "max",
    "dripfeed",
    "refill",
    "cancel",
    "category",
]
EXTENDED_KEYS = [
    "desc",
    "description",
    "name_lang",
    "cat_lang",
    "category_lang",
    "desc_lang",
    "description_lang",
]
# The `services` example of the API's published reference document, verbatim.
REFERENCE_SERVICES = """
[
{
"service": 1,
"name": "Followers",
"type": "Default",
"rate [Other currency Separate Ticket request]": "0.90",
"min": "50",
"max": "10000",
"dripfeed": true,
"refill": true,
"cancel": false,
"category": "First Category",
"desc [Separate Ticket Request]": "Description",
"description [Separate Ticket Request]": "Description",
"name_lang [Separate Ticket Request]": {
"ru": "RU Description",
"en": "EN Description"
},
"cat_lang [Separate Ticket Request]": {
"ru": "RU Category Name",
"en": "EN Category Name"
},
"category_lang [Separate Ticket Request]": {
"ru": "RU Category Name",
"en": "EN Category Name"
},
"desc_lang [Separate Ticket Request]": {
"ru": "RU Description",
"en": "EN Description"
},
"description_lang [Separate Ticket Request]": {
"ru": "RU Description",
"en": "EN Description"
}
},
{
"service": 2,
"name": "Comments",
"type": "Custom Comments",
"rate [Other currency Separate Ticket request]": "8",
"min": "10",
"max": "15000",
"dripfeed": false,
"refill": false,
"cancel": true,
"category": "Second Category",
"desc [Separate Ticket Request]": "Description",
"description [Separate Ticket Request]": "Description",
"name_lang [Separate Ticket Request]": {
"ru": "RU Description",
"en": "EN Description"
},
"cat_lang [Separate Ticket Request]": {
"ru": "RU Category Name",
"en": "EN Category Name"
},
"category_lang [Separate Ticket Request]": {
"ru": "RU Category Name",
"en": "EN Category Name"
},
"desc_lang [Separate Ticket Request]": {
"ru": "RU Description",
"en": "EN Description"
},
"description_lang [Separate Ticket Request]": {
"ru": "RU Description",
"en": "EN Description"
}
}
]
"""
# "rate [Other currency Separate Ticket request]" -> "rate"
_ANNOTATION = re.compile(r"\s*\[[^\]]*\]$")


def _plain_keys(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{_ANNOTATION.sub("", k): v for k, v in e.items()} for e in entries]


def _reference_entries() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(REFERENCE_SERVICES)
    return _plain_keys(entries)


def _strict(value: Any) -> str:
    """JSON text with sorted keys: equal only when values *and* JSON types agree
    (True != 1, "8" != 8)."""
    return json.dumps(value, sort_keys=True)


def test_reference_document_is_what_we_ship() -> None:
    """The packaged catalog the factories import is the reference's example,
    with every key, base and extended, in the reference's order."""
    expected = _reference_entries()
    assert [e["service"] for e in expected] == [1, 2]
    assert [list(e) for e in expected] == [BASE_KEYS + EXTENDED_KEYS] * 2
    assert _strict(_plain_keys(reference_catalog())) == _strict(expected)


def test_services_with_extended_fields_equal_the_reference(
    db: Database, http: httpx.Client
) -> None:
    import_reference_catalog(db)
    customer = make_customer(db)
    set_account_options(db, username=customer.username, extended_fields=True)
    services = Api(http, customer.key)("services")
    expected = _reference_entries()
    assert len(services) == len(expected)
    for got, want in zip(services, expected, strict=True):
        assert list(got) == list(want)  # the same keys, in the reference's order
        for key, value in want.items():
            assert type(got[key]) is type(value), key
            assert _strict(got[key]) == _strict(value), key
    assert services[0]["rate"] == "0.90" and services[1]["rate"] == "8"
    assert services[0]["min"] == "50" and services[1]["max"] == "15000"
    assert services[0]["name_lang"] == {"ru": "RU Description", "en": "EN Description"}
    assert services[1]["cat_lang"] == {"ru": "RU Category Name", "en": "EN Category Name"}
    assert _strict(services) == _strict(expected)


def test_services_without_extended_fields_have_base_keys_only(
    db: Database, http: httpx.Client
) -> None:
    import_reference_catalog(db)
    customer = make_customer(db)
    services = Api(http, customer.key, "get")("services")
    expected = [{k: e[k] for k in BASE_KEYS} for e in _reference_entries()]
    assert [list(s) for s in services] == [BASE_KEYS, BASE_KEYS]
    assert _strict(services) == _strict(expected)
    # Switching the option off again hides the extended fields again.
    set_account_options(db, username=customer.username, extended_fields=True)
    assert list(Api(http, customer.key)("services")[0]) == BASE_KEYS + EXTENDED_KEYS
    set_account_options(db, username=customer.username, extended_fields=False)
    assert list(Api(http, customer.key)("services")[0]) == BASE_KEYS


def test_status_balance_refill_and_cancel_examples(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db, balance="100.84292")
    other = make_customer(db, username="bob")
    api = Api(http, customer.key)
    assert api("balance") == {"balance": "100.84292", "currency": "USD"}

    make_service(db, name="Partial one", rate="0.27819", min_quantity=1, max_quantity=10_000)
    make_service(db, name="Running one", rate="1.44219", min_quantity=1, max_quantity=10_000)
    make_service(db, name="Filler", rate="0", min_quantity=1, refill=True)
    # Order 1, orders 2..99 as fillers (10 belongs to someone else), order 100.
    assert api("add", service=1, link="https://x.com/1", quantity=1000) == {"order": 1}
    for n in range(2, 100):
        owner = other.id if n == 10 else customer.id
        params = {"link": f"https://x.com/{n}", "quantity": "1"}
        assert place_order(db, account_id=owner, service_id=3, params=params).order_id == n
    assert api("add", service=2, link="https://x.com/100", quantity=1000) == {"order": 100}
    update_order(db, order_id=1, status="Partial", start_count=3572, remains=157)
    update_order(db, order_id=100, status="In progress", start_count=234, remains=10)

    assert json.dumps(api("status", orders="1,10,100")) == json.dumps(
        {
            "1": {
                # The reference's example shows 0.27819; the panel reports what the
                # order costs now: 0.27819 less 157 x 0.27819 / 1000 refunded.
                "charge": "0.23451",
                "start_count": "3572",
                "status": "Partial",
                "remains": "157",
                "currency": "USD",
            },
            "10": {"error": "Incorrect order ID"},
            "100": {
                "charge": "1.44219",
                "start_count": "234",
                "status": "In progress",
                "remains": "10",
                "currency": "USD",
            },
        }
    )

    # Refills: orders 2 and 3 completed (filler service refills), 10 not ours.
    update_order(db, order_id=2, status="Completed")
    update_order(db, order_id=3, status="Completed")
    assert api("refill", orders="2,3,10") == [
        {"order": 2, "refill": 1},
        {"order": 3, "refill": 2},
        {"order": 10, "refill": {"error": "Incorrect order ID"}},
    ]
    resolve_refill(db, refill_id=1, status="Completed")
    resolve_refill(db, refill_id=2, status="Rejected")
    # The reference prints "type" for the second entry; the panel answers "status" (docs/api.md).
    assert api("refill_status", refills="1,2,3") == [
        {"refill": 1, "status": "Completed"},
        {"refill": 2, "status": "Rejected"},
        {"refill": 3, "status": {"error": "Refill not found"}},
    ]

    # Cancels: Completed, Rejected, and one that does not exist.
    make_service(db, name="Cancellable", rate="1", min_quantity=1, cancel=True)
    first = place_order(
        db, account_id=customer.id, service_id=4, params={"link": "a.com/1", "quantity": 5}
    ).order_id
    second = place_order(
        db, account_id=customer.id, service_id=4, params={"link": "a.com/2", "quantity": 5}
    ).order_id
    assert api("cancel", orders=f"{first},{second}") == [
        {"order": first, "type": "order", "cancel": 1},
        {"order": second, "type": "order", "cancel": 2},
    ]
    resolve_cancel(db, cancel_id=1, status="Completed")
    resolve_cancel(db, cancel_id=2, status="Rejected")
    assert api("cancel", cancels="1,2,3") == [
        {"cancel": 1, "status": "Completed"},
        {"cancel": 2, "status": "Rejected"},
        {"cancel": 3, "status": {"error": "Cancel not found"}},
    ]


def test_cancel_example_types(db: Database, http: httpx.Client) -> None:
    """order / dripfeed / subscription, and an error entry that keeps its type."""
    customer = make_customer(db)
    make_service(db, name="Plain", min_quantity=1, cancel=True, dripfeed=True)
    make_service(db, name="Subs", type="Subscriptions", min_quantity=1)
    api = Api(http, customer.key, "json")
    assert api("add", service=1, link="https://x.com/a", quantity=10) == {"order": 1}
    placed = api("add", service=1, link="https://x.com/b", quantity=10, runs=2, interval=5)
    assert placed == {"order": 2}
    assert api("add", service=2, username="bob", min=1, max=10) == {"order": 3}
    assert api("add", service=2, username="ann", min=1, max=10) == {"order": 4}
    request_cancel(db, account_id=customer.id, order_id=4)
    assert api("cancel", orders="1,2,3,4") == [
        {"order": 1, "type": "order", "cancel": 2},
        {"order": 2, "type": "dripfeed", "cancel": 3},
        {"order": 3, "type": "subscription", "cancel": 4},
        {
            "order": 4,
            "type": "subscription",
            "cancel": {"error": "Cancellation request was sent earlier"},
        },
    ]
