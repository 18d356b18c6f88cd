"""Nothing about another account leaks; dead keys and suspended accounts are
refused; id lists are capped at 100."""

from __future__ import annotations

import json

import httpx
import pytest

from smmpanel.accounts.service import rotate_api_key, set_account_options
from smmpanel.db import Database
from smmpanel.orders.service import update_order
from tests.api.helpers import TRANSPORTS, Api
from tests.factories import make_customer, make_service

INVALID_KEY = {"error": "Invalid API key"}


def _swap(answer: object, old: int, new: int) -> str:
    """An answer's JSON with one id replaced, to compare 'theirs' with 'missing'."""
    return json.dumps(answer).replace(f'"{old}"', f'"{new}"').replace(f": {old}", f": {new}")


def test_other_accounts_ids_answer_like_missing_ones(db: Database, http: httpx.Client) -> None:
    alice = make_customer(db)
    bob = make_customer(db, "bob")
    make_service(db, min_quantity=1, refill=True, cancel=True)
    a, b = Api(http, alice.key), Api(http, bob.key)
    assert a("add", service=1, link="https://x.com/1", quantity=10) == {"order": 1}
    assert a("add", service=1, link="https://x.com/2", quantity=10) == {"order": 2}
    update_order(db, order_id=1, status="Completed")
    assert a("refill", order=1) == {"refill": "1"}
    assert a("cancel", order=2) == [{"order": 2, "type": "order", "cancel": 1}]

    missing = 999
    calls = [
        ("status", {"order": "{}"}),
        ("status", {"orders": "{}"}),
        ("refill", {"order": "{}"}),
        ("refill", {"orders": "{}"}),
        ("refill_status", {"refill": "{}"}),
        ("refill_status", {"refills": "{}"}),
        ("cancel", {"order": "{}"}),
        ("cancel", {"orders": "{}"}),
        ("cancel", {"cancels": "{}"}),
    ]
    # Order 1 is Completed with a refill, order 2 Pending with a cancel: for
    # Bob both are simply not there, whatever state they are in.
    for theirs in (1, 2):
        for action, params in calls:
            asked = {k: v.format(theirs) for k, v in params.items()}
            control = {k: v.format(missing) for k, v in params.items()}
            got = b(action, **asked)
            assert "error" in json.dumps(got), (action, got)
            expected = json.dumps(b(action, **control))
            assert _swap(got, theirs, missing) == expected, (theirs, action, got)
    assert b("cancel", orders="2") == [{"order": 2, "cancel": {"error": "Incorrect order ID"}}]
    # Bob's attempts changed nothing of Alice's.
    assert a("status", order=2)["status"] == "Pending"
    assert a("refill_status", refill=1) == {"status": "Pending"}
    assert a("cancel", cancels=1) == [{"cancel": 1, "status": "Pending"}]
    assert b("balance")["balance"] == "100.00000"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_dead_keys(db: Database, http: httpx.Client, transport: str) -> None:
    alice = make_customer(db)
    api = Api(http, alice.key, transport)
    assert api("balance")["balance"] == "100.00000"

    set_account_options(db, username="alice", status="suspended")
    for action in ("balance", "services", "add", "status"):
        assert api(action, service=1, order=1) == INVALID_KEY
    set_account_options(db, username="alice", status="active")
    assert api("balance")["balance"] == "100.00000"

    new_key = rotate_api_key(db, username="alice")
    for action in ("balance", "add", "status"):
        assert api(action, service=1, order=1) == INVALID_KEY
    assert Api(http, new_key, transport)("balance")["balance"] == "100.00000"
    # Keys are matched whole: a prefix, a different case or extra text fails.
    for wrong in (new_key[:-1], new_key.upper(), new_key + "x", "x" * 300):
        assert Api(http, wrong, transport)("balance") == INVALID_KEY
    # The key is checked before anything else the request gets wrong.
    nobody = Api(http, "no-such-key", transport)
    assert nobody("add") == INVALID_KEY
    assert nobody("add", service=1, request_id="") == INVALID_KEY
    assert nobody("status") == INVALID_KEY
    assert nobody("status", orders=",".join(str(n) for n in range(1, 102))) == INVALID_KEY
    assert nobody("no_such_action") == INVALID_KEY


def test_at_most_100_ids(db: Database, http: httpx.Client) -> None:
    alice = make_customer(db)
    api = Api(http, alice.key, "json")
    hundred = ",".join(str(n) for n in range(1, 101))
    too_many = hundred + ",101"
    answer = api("status", orders=hundred)
    assert len(answer) == 100 and answer["100"] == {"error": "Incorrect order ID"}
    assert len(api("refill", orders=hundred)) == 100
    assert len(api("refill_status", refills=hundred)) == 100
    assert len(api("cancel", orders=hundred)) == 100
    assert len(api("cancel", cancels=hundred)) == 100
    for action, name in (
        ("status", "orders"),
        ("refill", "orders"),
        ("refill_status", "refills"),
        ("cancel", "orders"),
        ("cancel", "cancels"),
    ):
        assert api(action, **{name: too_many}) == {"error": "Too many IDs (max 100)"}
        as_list = list(range(1, 102))
        assert api(action, **{name: as_list}) == {"error": "Too many IDs (max 100)"}
    # Repeated ids count once.
    assert len(api("status", orders=hundred + ",1,2,3")) == 100
