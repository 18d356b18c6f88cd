"""Idempotent `add`: a `request_id` parameter or an `Idempotency-Key` header."""

from __future__ import annotations

import httpx
import pytest

from smmpanel.db import Database
from smmpanel.ledger.funding import fund_account
from smmpanel.orders.models import Order
from smmpanel.panel.settings import put_setting
from tests.api.helpers import TRANSPORTS, Api, assert_ledger_consistent
from tests.factories import make_customer, make_service

CONFLICT = "Request ID already used with different parameters"
ORDER = {"service": 1, "link": "https://x.com/a", "quantity": 1000}


def _orders(db: Database) -> int:
    with db.read() as session:
        return session.query(Order).count()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_request_id(db: Database, http: httpx.Client, transport: str) -> None:
    customer = make_customer(db)
    make_service(db, rate="1")
    api = Api(http, customer.key, transport)
    first = api("add", **ORDER, request_id="abc-1")
    assert first == {"order": 1}
    assert api("add", **ORDER, request_id="abc-1") == first
    assert api("add", **ORDER, request_id=" abc-1 ") == first  # trimmed like any value
    assert api("balance")["balance"] == "99.00000"
    assert _orders(db) == 1
    # The same id with other parameters is refused and charges nothing.
    for changed in ({"quantity": 999}, {"link": "https://x.com/b"}, {"service": 2}):
        refused = api("add", **{**ORDER, **changed}, request_id="abc-1")
        assert refused["error"] == CONFLICT
    # Another id is another order (a new link, or the duplicate rule would refuse it).
    second = api("add", **{**ORDER, "link": "https://x.com/b"}, request_id="abc-2")
    assert second == {"order": 2}
    assert api("balance")["balance"] == "98.00000"
    assert _orders(db) == 2
    assert_ledger_consistent(db)


def test_idempotency_key_header(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db)
    make_service(db, rate="1")
    header = {"Idempotency-Key": "key-77"}
    plain_form = Api(http, customer.key, "form")
    form = plain_form.with_headers(header)
    as_json = Api(http, customer.key, "json").with_headers(header)
    first = form("add", **ORDER)
    assert first == {"order": 1}
    # The same parameters through another transport are the same request.
    assert as_json("add", **ORDER) == first
    assert form("add", **{k: str(v) for k, v in ORDER.items()}) == first
    assert Api(http, customer.key, "get").with_headers(header)("add", **ORDER) == first
    # The action's spelling does not switch the header off.
    assert as_json("ADD", **ORDER) == first
    assert form("add", **{**ORDER, "quantity": 5})["error"] == CONFLICT
    assert form("balance")["balance"] == "99.00000"
    # The header key and a request_id of the same text are one key.
    assert plain_form("add", request_id="key-77", **ORDER) == first
    # The header means nothing to other actions.
    assert form("balance") == {"balance": "99.00000", "currency": "USD"}
    assert _orders(db) == 1


def test_without_a_key_every_add_is_a_new_order(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db)
    make_service(db, rate="1")
    with db.write() as session:
        put_setting(session, "duplicate_link_check", "off")
    api = Api(http, customer.key)
    assert api("add", **ORDER) == {"order": 1}
    assert api("add", **ORDER) == {"order": 2}
    assert api("balance")["balance"] == "98.00000"


def test_request_ids_belong_to_their_account(db: Database, http: httpx.Client) -> None:
    alice = make_customer(db)
    bob = make_customer(db, "bob")
    make_service(db, rate="1")
    a, b = Api(http, alice.key), Api(http, bob.key)
    assert a("add", **ORDER, request_id="same") == {"order": 1}
    # Bob's "same" is his own key (and the link is taken by Alice's active order).
    assert b("add", **{**ORDER, "link": "https://x.com/bob"}, request_id="same") == {"order": 2}
    assert b("balance")["balance"] == "99.00000"


def test_a_refused_request_does_not_use_up_its_key(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db, balance="0.5")
    make_service(db, rate="1")
    api = Api(http, customer.key)
    refused = api("add", **ORDER, request_id="retry-me")
    assert refused == {"error": "Not enough funds on balance"}
    fund_account(db, username=customer.username, amount="1")
    placed = api("add", **ORDER, request_id="retry-me")
    assert set(placed) == {"order"}
    assert api("add", **ORDER, request_id="retry-me") == placed
    assert api("balance")["balance"] == "0.50000"
    # Malformed request ids are refused as such.
    for bad in ("x" * 256, "a\x00b"):
        got = api("add", **ORDER, request_id=bad)
        assert got["error"] == "Incorrect request" and "request_id" in got["detail"]
    assert_ledger_consistent(db)
