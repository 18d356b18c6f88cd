"""Random and malformed requests in the three transports: the answer is always
HTTP 200 JSON, and the balance moves only when an order was placed, by exactly
that order's charge.  Then the inputs that once broke the endpoint."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smmpanel.accounts.queries import account_balance
from smmpanel.db import Database
from smmpanel.orders.models import Order
from tests.api.helpers import ENDPOINT, TRANSPORTS, Api, answer, assert_ledger_consistent, send
from tests.factories import Customer, make_customer, make_service

ACTION_NAMES = ["services", "add", "status", "refill", "refill_status", "cancel", "balance"]
PARAM_NAMES = [
    "service", "link", "quantity", "runs", "interval", "comments", "usernames", "username",
    "min", "max", "posts", "old_posts", "delay", "expiry", "answer_number", "order", "orders",
    "refill", "refills", "cancels", "request_id", "type_of_traffic", "device", "google_keyword",
    "referring_url", "hashtags", "hashtag", "media", "groups", "keywords", "country",
]  # fmt: skip
NASTY_TEXT = [
    "", " ", "0", "-1", "1.5", "1e3", "1e9999999", "-1e9999999", "NaN", "Infinity", "\u0663",
    "\uff11\uff12", "9" * 30, "99999999999", "2147483648", "1,2,3", "1, x ,3", ",,,", "\x00",
    "a\x00b", "null", "[1,2]", '{"a":1}', "%0A", "+", "'; DROP TABLE orders; --", "\r\n\r\n",
    "😀" * 10,
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=-5, max_value=2000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(NASTY_TEXT),
    st.text(max_size=40),
    st.text(alphabet="ab\n ", min_size=500, max_size=3000),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
# Values that often make a valid order, so that the "placed" path is exercised too.
plausible = {
    "service": st.sampled_from([1, 2, 3, 4, "1", " 2 ", 5, "99999999999", 10**20]),
    "link": st.uuids().map(lambda u: f"https://x.com/p/{u.hex[:12]}"),
    "quantity": st.integers(min_value=1, max_value=3000) | st.sampled_from(["100", "1e9999999"]),
    "comments": st.lists(st.text("abc ", min_size=1, max_size=8), max_size=6).map("\n".join),
    "username": st.sampled_from(["ann", "bob"]),
    "min": st.sampled_from([1, 5, 10]),
    "max": st.sampled_from([10, 20]),
    "answer_number": st.sampled_from([1, 2, "3"]),
    "runs": st.sampled_from([2, 3]),
    "interval": st.sampled_from([5, 10]),
    "request_id": st.sampled_from(["r1", "r2", "r3"]),
    "orders": st.sampled_from(["1,2,3", "4", "x,1", "1,99999999999"]),
    "order": st.sampled_from([1, 2, "3", "2147483648", 10**20]),
}


# Enough for every type of the catalog below (the type ignores what it does not read).
ADD_PARAMS = ["service", "link", "quantity", "comments", "username", "min", "max", "answer_number"]


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    transport = draw(st.sampled_from(TRANSPORTS))
    key_kind = draw(st.sampled_from(["valid", "valid", "valid", "valid", "junk", "missing"]))
    # `add` weighs most: it is the one that moves money.
    known = st.sampled_from(["add", "add", "add", "ADD", " status ", *ACTION_NAMES])
    action = draw(known | known | st.text(max_size=12))
    params: dict[str, Any] = {"action": action}
    # A third of the requests are plausible (so that orders do get placed),
    # a third mix plausible and random values, a third are random throughout.
    mode = draw(st.sampled_from(["plausible", "mixed", "random"]))
    if mode != "random":
        core = ADD_PARAMS if action.strip().lower() == "add" else ["order", "orders"]
        for name in core:
            strategy = plausible[name]
            params[name] = draw(strategy if mode == "plausible" else strategy | values)
    for name in draw(st.lists(st.sampled_from(PARAM_NAMES), max_size=5, unique=True)):
        maybe = plausible.get(name)
        params[name] = draw(maybe | values if maybe is not None else values)
    for name in draw(st.lists(st.text(max_size=10), max_size=2)):
        params[name] = draw(values)
    if key_kind == "junk":
        params["key"] = draw(values)
    if transport == "get":
        # Keep the URL below what any HTTP server accepts in a request line.
        params = {k[:50]: str(v)[:400] for k, v in params.items()}
    return transport, key_kind, params


def _order_charges(db: Database, account_id: int) -> dict[int, int]:
    with db.read() as session:
        rows = session.query(Order.id, Order.charge).filter(Order.account_id == account_id)
        return {order_id: charge for order_id, charge in rows}


@pytest.fixture
def fuzz_customer(db: Database) -> Customer:
    """The catalog, and the account the valid key opens (made once per database:
    hypothesis runs every example over the same fixture)."""
    make_service(db, name="Default", rate="0.9", min_quantity=1, max_quantity=2000, dripfeed=True)
    make_service(db, name="Comments", type="Custom Comments", rate="8", min_quantity=1)
    make_service(db, name="Subs", type="Subscriptions", rate="1", min_quantity=1)
    make_service(db, name="Poll", type="Poll", rate="0.00090", min_quantity=1, refill=True)
    return make_customer(db, "fuzz", balance="30")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests())
def test_random_requests_never_break_or_leak_money(
    db: Database,
    http: httpx.Client,
    fuzz_customer: Customer,
    request: tuple[str, str, dict[str, Any]],
) -> None:
    transport, key_kind, params = request
    customer = fuzz_customer
    if key_kind == "valid":
        params = {**params, "key": customer.key}

    before, _ = account_balance(db, customer.id)
    known = _order_charges(db, customer.id)
    if transport == "json":
        response = http.post(
            ENDPOINT,
            content=json.dumps(params),
            headers={"Content-Type": "application/json"},
        )
    else:
        response = send(http, transport, params)
    assert response.status_code == 200, (response.status_code, response.text, params)
    reply = answer(response)

    after, _ = account_balance(db, customer.id)
    placed = isinstance(reply, dict) and set(reply) == {"order"}
    if placed and key_kind == "valid" and reply["order"] not in known:
        charge = _order_charges(db, customer.id)[reply["order"]]
        assert before - after == charge, (params, reply)
    else:
        # A refusal, a replayed request id, or any other action: no money moves.
        assert after == before, (params, reply)
    assert_ledger_consistent(db)


def test_inputs_that_once_broke_the_endpoint(db: Database, http: httpx.Client) -> None:
    """Each of these answered HTTP 500 (or never answered) before it was fixed."""
    make_service(db, min_quantity=1)
    make_service(db, name="Subs", type="Subscriptions", min_quantity=1)
    customer = make_customer(db)
    key = customer.key
    raw: list[tuple[str, dict[str, Any]]] = [
        # Ids beyond a 32-bit INTEGER: "integer out of range" on PostgreSQL.
        ("form", {"action": "add", "service": "99999999999", "link": "x.com/a", "quantity": 10}),
        ("form", {"action": "status", "order": "99999999999"}),
        ("form", {"action": "status", "orders": "99999999999,1"}),
        ("form", {"action": "refill", "orders": "2147483648"}),
        ("form", {"action": "refill_status", "refill": "99999999999"}),
        ("form", {"action": "cancel", "order": "99999999999"}),
        ("form", {"action": "cancel", "cancels": "99999999999"}),
        # Beyond 64 bits: OverflowError on SQLite.
        ("json", {"action": "add", "service": 10**30, "link": "x.com/a", "quantity": 10}),
        ("json", {"action": "status", "order": 10**30}),
        # A quantity whose exponent overflows the decimal context.
        ("form", {"action": "add", "service": 1, "link": "x.com/a", "quantity": "1e9999999"}),
        # NUL characters stored as text (PostgreSQL refuses them).
        (
            "form",
            {
                "action": "add",
                "service": 1,
                "link": "x.com/b",
                "quantity": 10,
                "request_id": "a\x00b",
            },
        ),
        ("form", {"action": "add", "service": 2, "username": "a\x00b", "min": 1, "max": 5}),
    ]
    for transport, params in raw:
        got = answer(send(http, transport, {"key": key, **params}))
        assert "error" in json.dumps(got), (params, got)
    assert answer(
        send(http, "form", {"key": key, "action": "status", "orders": "99999999999"})
    ) == {"99999999999": {"error": "Incorrect order ID"}}
    # Numbers in JSON with huge exponents: int() of them would never finish.
    for number in ("1e999999", "1e99999999999", "-1e99999999999", "1e-99999999999"):
        for name in ("order", "service", "quantity"):
            action = "status" if name == "order" else "add"
            fields = f'"key": "{key}", "action": "{action}", "link": "x.com/c", "service": 1'
            body = f'{{{fields}, "{name}": {number}}}'  # the number last: it wins
            response = http.post(
                ENDPOINT, content=body, headers={"Content-Type": "application/json"}
            )
            assert "error" in answer(response), (name, number)
    # A 64-character username made the actor too long for its column on PostgreSQL.
    long_name = make_customer(db, "u" * 64)
    api = Api(http, long_name.key)
    assert api("add", service=1, link="x.com/long", quantity=10) == {"order": 1}
    assert api("balance")["balance"] == "99.99100"
    assert_ledger_consistent(db)
