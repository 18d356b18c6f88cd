"""What a batch of `add` calls reads once for all of them (api_v2/group_add.py,
orders/offers.py): the key checks, and each account's offer of each service.
Every call must still get the answer, charge and rows a lone add gives it."""

from __future__ import annotations

import json
import sys
from typing import Any

from sqlalchemy import select

from smmpanel.accounts.service import rotate_api_key, set_account_options, set_currency_rate
from smmpanel.api_v2.app import answer_of, handle
from smmpanel.api_v2.group_add import batch_answers
from smmpanel.catalog.pricing import set_custom_rate
from smmpanel.db import Database
from smmpanel.jobs.models import Job
from smmpanel.ledger.funding import fund_account
from smmpanel.ledger.models import LedgerEntry
from smmpanel.orders.models import Order
from smmpanel.orders.validation import _SPACE_OR_CONTROL
from smmpanel.panel.settings import put_setting
from smmpanel.simulator.testing import running_simulator
from tests.api.helpers import assert_ledger_consistent, balance_text
from tests.factories import make_backed_service, make_customer, make_provider, make_service

BAD_KEY = {"error": "Invalid API key"}


def _batch(db: Database, calls: list[dict[str, Any]]) -> list[Any]:
    return [json.loads(bytes(r.body)) for r in batch_answers(db, calls, answer_of)]


def test_each_call_of_a_batch_pays_its_own_price(db: Database) -> None:
    """Two accounts (one with a custom rate, one in another currency) and two
    services, interleaved in one batch: each order has its account's price of
    its service, as it has placed alone."""
    cheap = make_service(db, rate="1", min_quantity=10)
    dear = make_service(db, rate="2", min_quantity=10)
    set_currency_rate(db, code="EUR", rate="0.5")
    alice = make_customer(db, "alice", balance="100")
    bob = make_customer(db, "bob", balance="100", currency="EUR")
    set_custom_rate(db, username="alice", service_id=dear, rate="1.5")
    calls = [
        {"key": who.key, "action": "add", "service": str(service), "quantity": "1000",
         "link": f"https://x.com/{who.username}/{service}/{n}"}
        for n in range(2) for who in (alice, bob) for service in (cheap, dear)
    ]  # fmt: skip
    answers = _batch(db, calls)
    assert answers == [{"order": n} for n in range(1, 9)]
    with db.read() as session:
        orders = session.scalars(select(Order).order_by(Order.id)).all()
        charges = [(o.account_id, o.service_id, o.currency, o.charge) for o in orders]
    # alice: 1.00 and 1.50 (her custom rate) per 1000 in USD; bob: 0.50 and 1.00 in EUR.
    units = 100_000  # minor units per 1.00
    per_round = [
        (alice.id, cheap, "USD", 1 * units),
        (alice.id, dear, "USD", 3 * units // 2),
        (bob.id, cheap, "EUR", units // 2),
        (bob.id, dear, "EUR", 1 * units),
    ]
    assert charges == per_round * 2
    assert_ledger_consistent(db)


def test_the_keys_of_a_batch_are_checked_as_lone_adds_check_them(db: Database) -> None:
    make_service(db, rate="1", min_quantity=10)
    good = make_customer(db, "good")
    revoked = make_customer(db, "revoked")
    suspended = make_customer(db, "suspended")
    rotate_api_key(db, username="revoked")  # its old key is revoked
    set_account_options(db, username="suspended", status="suspended")
    order = {"action": "add", "service": "1", "quantity": "100"}
    calls = [
        {**order, "key": key, "link": f"https://x.com/{n}"}
        for n, key in enumerate([good.key, revoked.key, suspended.key, "no-such-key", "", good.key])
    ]
    answers = _batch(db, calls)
    assert answers == [{"order": 1}, BAD_KEY, BAD_KEY, BAD_KEY, BAD_KEY, {"order": 2}]
    # The same calls alone (`handle`) answer the same refusals.
    lone = [handle(db, {**call, "link": call["link"] + "/lone"}) for call in calls[1:5]]
    assert lone == [BAD_KEY] * 4


def test_the_link_scope_and_the_forwarding_are_read_for_the_batch(db: Database) -> None:
    """duplicate_link_scope=account and a provider-backed service beside a
    manual one: the rule and the forward jobs hold within one batch."""
    with db.write() as session:
        put_setting(session, "duplicate_link_scope", "account")
    alice = make_customer(db, "alice")
    bob = make_customer(db, "bob")
    with running_simulator(manual_clock=True) as sim:
        manual = make_service(db, rate="1", min_quantity=10)
        backed = make_backed_service(db, make_provider(db, sim, "sim"), rate="1", min_quantity=10)
        link = "https://x.com/same"
        calls = [
            {"key": who.key, "action": "add", "service": str(service), "quantity": "100",
             "link": link}
            for who, service in [(alice, manual), (alice, manual), (bob, manual), (alice, backed)]
        ]  # fmt: skip
        answers = _batch(db, calls)
    duplicate = "You have active order with this link. Please wait until order being completed."
    assert answers == [{"order": 1}, {"error": duplicate}, {"order": 2}, {"order": 3}]
    with db.read() as session:
        jobs = session.scalars(select(Job.payload)).all()
        states = session.execute(select(Order.id, Order.forward_state).order_by(Order.id)).all()
        entries = session.scalars(
            select(LedgerEntry.cause).where(LedgerEntry.order_id.is_not(None))
        )
        causes = sorted(str(cause) for cause in entries)
    assert jobs == [{"order_id": 3}]
    assert [tuple(s) for s in states] == [(1, None), (2, None), (3, "queued")]
    assert causes == ["charge:order:1", "charge:order:2", "charge:order:3"]
    assert_ledger_consistent(db)


def test_request_ids_within_one_batch(db: Database) -> None:
    make_service(db, rate="1", min_quantity=10)
    poor = make_customer(db, "poor", balance="0.15")  # pays for one order of 100
    rich = make_customer(db, "rich")
    order = {"action": "add", "service": "1", "quantity": "100"}
    calls = [
        {**order, "key": rich.key, "link": "https://x.com/1", "request_id": "r1"},
        {**order, "key": rich.key, "link": "https://x.com/1", "request_id": "r1"},  # replay
        {**order, "key": rich.key, "link": "https://x.com/2", "request_id": "r1"},  # conflict
        {**order, "key": poor.key, "link": "https://x.com/3", "request_id": "p1"},
        {**order, "key": poor.key, "link": "https://x.com/4", "request_id": "p2"},  # no funds
        {**order, "key": poor.key, "link": "https://x.com/5", "request_id": "p2"},  # key free
    ]
    answers = _batch(db, calls)
    conflict = {"error": "Request ID already used with different parameters"}
    no_funds = {"error": "Not enough funds on balance"}
    assert answers == [{"order": 1}, {"order": 1}, conflict, {"order": 2}, no_funds, no_funds]
    # The refused p2 holds no key: with funds it places, and is replayed after.
    with db.write() as session:
        put_setting(session, "duplicate_link_scope", "off")
    fund_account(db, username="poor", amount="1")
    placed, replayed = _batch(db, calls[5:] * 2)
    assert set(placed) == {"order"}  # its number: PostgreSQL's sequence skips the refused
    assert replayed == placed
    assert balance_text(db, poor.id) == "0.95000"  # 0.15 - 0.10 + 1 - 0.10
    assert balance_text(db, rich.id) == "99.90000"
    assert_ledger_consistent(db)


def test_a_link_is_refused_for_exactly_the_characters_it_was() -> None:
    """The search that replaced the loop over a link's characters refuses the
    same ones: str.isspace() or a control character, over every code point."""
    for point in range(sys.maxunicode + 1):
        char = chr(point)
        refused = char.isspace() or point < 32 or point == 127
        assert bool(_SPACE_OR_CONTROL.search(f"a{char}b")) == refused, hex(point)
