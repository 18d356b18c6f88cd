"""Fuzzing the API: hypothesis over every action and parameter, every encoding,
method and path (tests/api/fuzz_requests.py), on SQLite and PostgreSQL; most
calls in-process through the ASGI app, a part over a real HTTP server (where
chunked bodies, HEAD and redirects show).  After every batch: no 5xx, every
answer JSON, each new order answered to its caller, balances moved by exactly
the charges of the new orders, and the ledger clean.  Then the inputs that
once broke the endpoint."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from smmpanel.accounts.queries import account_balance
from smmpanel.api_v2.app import create_app
from smmpanel.db import Database
from smmpanel.orders.models import Order
from smmpanel.server import serve_in_thread
from tests.api.asgi_client import AsgiClient, RawRequest, RawResponse, asgi_client
from tests.api.fuzz_requests import FuzzCall, fuzz_calls, variants
from tests.api.helpers import ENDPOINT, Api, answer, assert_ledger_consistent, send
from tests.factories import make_customer, make_service
from tests.figures import backend, report

MAX_BODY = 1_000_000
# Per database and run: 9,100 calls in-process and 1,120 over HTTP (each example
# draws BATCH calls and sends each of them 14 ways: fuzz_requests.variants).
IN_PROCESS_EXAMPLES, HTTP_EXAMPLES, BATCH = 65, 8, 10
FUZZ_SETTINGS = settings(
    deadline=None,
    derandomize=True,  # the same calls on every run: CI stays deterministic
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


@dataclass
class FuzzPanel:
    """The catalog, two accounts (one rich, one nearly broke) and the figures."""

    db: Database
    keys: dict[str, str]
    accounts: list[int]
    statuses: Counter[int] = field(default_factory=Counter)
    orders: int = 0
    balance_checks: int = 0
    started: float = field(default_factory=time.monotonic)

    def money(self) -> tuple[dict[int, int], set[int]]:
        balances = {account: account_balance(self.db, account)[0] for account in self.accounts}
        with self.db.read() as session:
            orders = set(session.scalars(select(Order.id)))
        return balances, orders

    def check_batch(
        self,
        before: tuple[dict[int, int], set[int]],
        calls: list[FuzzCall],
        replies: list[RawResponse],
        *,
        over_http: bool,
    ) -> None:
        answered: set[int] = set()
        for call, reply in zip(calls, replies, strict=True):
            self.statuses[reply.status] += 1
            order_id = _check_reply(call, reply, over_http=over_http)
            if order_id is not None:
                answered.add(order_id)
        balances, orders = self.money()
        new = orders - before[1]
        # Every new order was answered to its caller (a HEAD add once placed an
        # order nobody saw); an answered id is new or a replayed request_id's.
        assert new <= answered, (new, answered)
        assert answered <= orders
        with self.db.read() as session:
            rows = session.execute(
                select(Order.account_id, Order.charge).where(Order.id.in_(new))
            ).all()
        for account in self.accounts:
            charged = sum(charge for owner, charge in rows if owner == account)
            assert before[0][account] - balances[account] == charged, (account, calls)
            self.balance_checks += 1
        self.orders += len(new)
        assert_ledger_consistent(self.db)

    def report(self, suite: str) -> None:
        report(
            f"{suite}[{backend(self.db)}]",
            calls=sum(self.statuses.values()),
            by_status=dict(self.statuses),
            orders_placed=self.orders,
            balances_verified=self.balance_checks,
            seconds=time.monotonic() - self.started,
        )


def _check_reply(call: FuzzCall, reply: RawResponse, *, over_http: bool) -> int | None:
    """The answer's invariants; the id of the order it reports placed, if any."""
    shown = (call, reply.status, reply.body[:300])
    # /healthz answers 503 here: no worker ever ran on the fuzzed panel.
    healthz = call.path == "/healthz" and call.method in ("GET", "HEAD")
    assert reply.status in ((503,) if healthz else (200, 404, 405, 413)), shown
    assert reply.headers["content-type"].split(";")[0] == "application/json", shown
    if call.acts:
        assert reply.status == (413 if call.oversize else 200), shown
    elif call.method not in ("GET", "POST") and call.path in ("/api/v2", "/api/v2/"):
        assert reply.status == 405 and reply.headers["allow"] == "GET, POST", shown
    if over_http and call.method == "HEAD":
        assert reply.body == b"", shown  # HEAD: the headers of the answer only
        return None
    body = json.loads(reply.body)
    assert isinstance(body, dict | list), shown
    if isinstance(body, dict) and set(body) == {"order"}:
        assert reply.status == 200 and isinstance(body["order"], int), shown
        return int(body["order"])
    return None


@pytest.fixture
def fuzz_panel(db: Database) -> Iterator[FuzzPanel]:
    """Made once per database: hypothesis runs every example over the same fixture."""
    make_service(db, name="Default", rate="0.9", min_quantity=1, max_quantity=2000, dripfeed=True)
    make_service(db, name="Comments", type="Custom Comments", rate="8", min_quantity=1)
    make_service(db, name="Subs", type="Subscriptions", rate="1", min_quantity=1)
    make_service(db, name="Poll", type="Poll", rate="0.00090", min_quantity=1, refill=True)
    make_service(db, name="Package", type="Package", rate="2", cancel=True)
    rich = make_customer(db, "rich", balance="1000000")
    poor = make_customer(db, "poor", balance="0.5")
    yield FuzzPanel(db, {"rich": rich.key, "poor": poor.key}, [rich.id, poor.id])


@pytest.fixture
def in_process(fuzz_panel: FuzzPanel) -> Iterator[AsgiClient]:
    with asgi_client(create_app(fuzz_panel.db, max_body=MAX_BODY)) as client:
        yield client
    fuzz_panel.report("fuzz/in-process")


@settings(FUZZ_SETTINGS, max_examples=IN_PROCESS_EXAMPLES)
@given(calls=st.lists(fuzz_calls(), min_size=BATCH, max_size=BATCH))
def test_fuzz_in_process(
    fuzz_panel: FuzzPanel, in_process: AsgiClient, calls: list[FuzzCall]
) -> None:
    """~9,000 calls per database in ~20-40 s: the bulk of the suite."""
    sent = [variant for call in calls for variant in variants(call)]
    before = fuzz_panel.money()
    replies = in_process.run([call.to_raw(fuzz_panel.keys, MAX_BODY) for call in sent])
    fuzz_panel.check_batch(before, sent, replies, over_http=False)


@pytest.fixture
def over_http(fuzz_panel: FuzzPanel) -> Iterator[httpx.Client]:
    app = create_app(fuzz_panel.db, max_body=MAX_BODY)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client
    fuzz_panel.report("fuzz/http")


def _send(client: httpx.Client, request: RawRequest) -> RawResponse:
    url = request.path + (f"?{request.query.decode('ascii')}" if request.query else "")
    headers = dict(request.headers)
    content: Any = request.body if request.method not in ("GET", "HEAD") else None
    if request.chunked:
        content = iter(RawRequest.chunks(request))
    response = client.request(request.method, url, content=content, headers=headers)
    assert not response.is_redirect, (request.path, response.headers.get("location"))
    return RawResponse(response.status_code, dict(response.headers), response.content)


@settings(FUZZ_SETTINGS, max_examples=HTTP_EXAMPLES)
@given(calls=st.lists(fuzz_calls(), min_size=BATCH, max_size=BATCH))
def test_fuzz_over_http(
    fuzz_panel: FuzzPanel, over_http: httpx.Client, calls: list[FuzzCall]
) -> None:
    """~1,000 calls per database over a real uvicorn server, in a few seconds."""
    sent = [variant for call in calls for variant in variants(call)]
    before = fuzz_panel.money()
    replies = [_send(over_http, call.to_raw(fuzz_panel.keys, MAX_BODY)) for call in sent]
    fuzz_panel.check_batch(before, sent, replies, over_http=True)


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
