"""One way to make an order: `create_order` writes the row, its first event and
its charge; placed orders, drip-feed runs and subscription posts all use it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from smmpanel.accounts.queries import account_balance
from smmpanel.db import Database
from smmpanel.ledger.errors import InsufficientFunds
from smmpanel.ledger.models import LedgerEntry
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.orders.creation import CreatedOrder, create_order
from smmpanel.orders.dripfeed import advance_parent
from smmpanel.orders.errors import ActiveOrderExists
from smmpanel.orders.forwarding_states import ForwardState
from smmpanel.orders.lifecycle import lock_order
from smmpanel.orders.models import Order, OrderEvent
from smmpanel.orders.posts import make_post
from smmpanel.orders.service import place_order
from smmpanel.timeutil import as_utc, utcnow
from tests.factories import Customer, make_customer, make_service

START = 10_000_000  # the customer's 100.00000 in minor units


@pytest.fixture
def customer(db: Database) -> Iterator[Customer]:
    make_service(db, rate="0.90", max_quantity=100_000_000, dripfeed=True)
    yield make_customer(db)
    assert find_balance_mismatches(db) == []


def _new(db: Database, customer: Customer, **overrides: Any) -> CreatedOrder:
    values: dict[str, Any] = dict(
        account_id=customer.id,
        service_id=1,
        kind="order",
        link="https://x.com/p/1",
        quantity=1000,
        rate=90_000,
        charge=90_000,
        currency="USD",
        params={"k": "v"},
        actor="test",
    )
    values.update(overrides)
    with db.write() as session:
        return create_order(session, **values)


def _row(db: Database, order_id: int) -> Order:
    with db.read() as session:
        return session.get_one(Order, order_id)


def _events(db: Database, order_id: int) -> list[tuple[str | None, str, str, str]]:
    """The order's status history (forwarding moves are events of their own)."""
    with db.read() as session:
        query = (
            select(OrderEvent)
            .where(OrderEvent.order_id == order_id, OrderEvent.to_forward.is_(None))
            .order_by(OrderEvent.id)
        )
        return [(e.from_status, e.to_status, e.actor, e.note) for e in session.scalars(query)]


def _entries(db: Database, order_id: int) -> list[tuple[str, int, str | None, str]]:
    with db.read() as session:
        query = select(LedgerEntry).where(LedgerEntry.order_id == order_id)
        return [(e.kind, e.amount, e.cause, e.note) for e in session.scalars(query)]


def test_the_row_its_first_event_and_its_charge(db: Database, customer: Customer) -> None:
    now = utcnow()
    created = _new(db, customer, note="first", charge_note="paid", now=now)
    assert created == CreatedOrder(created.order_id, paid=True)
    order = _row(db, created.order_id)
    assert (order.kind, order.link, order.quantity, order.total_quantity, order.remains) == (
        "order",
        "https://x.com/p/1",
        1000,
        1000,
        1000,
    )
    assert (order.rate, order.charge, order.refunded, order.currency, order.status) == (
        90_000,
        90_000,
        0,
        "USD",
        "Pending",
    )
    assert (order.params, order.package, order.forward_skip, order.forward_error) == (
        {"k": "v"},
        False,
        [],
        "",
    )
    assert as_utc(order.created_at) == as_utc(order.updated_at) == now
    assert (order.parent_id, order.run_number, order.provider_id, order.forward_state) == (
        None,
        None,
        None,
        None,
    )
    assert _events(db, created.order_id) == [(None, "Pending", "test", "first")]
    cause = f"charge:order:{created.order_id}"
    assert _entries(db, created.order_id) == [("charge", -90_000, cause, "paid")]
    assert account_balance(db, customer.id)[0] == START - 90_000


def test_no_charge_posts_no_entry(db: Database, customer: Customer) -> None:
    created = _new(db, customer, charge=0)
    assert created.paid
    assert _entries(db, created.order_id) == []
    assert account_balance(db, customer.id)[0] == START


def test_an_order_the_balance_cannot_pay_is_refused(db: Database, customer: Customer) -> None:
    with pytest.raises(InsufficientFunds):
        _new(db, customer, charge=START + 1)
    with db.read() as session:
        assert session.scalars(select(Order.id)).all() == []
    assert account_balance(db, customer.id)[0] == START


def test_record_unpaid_keeps_the_order_uncharged(db: Database, customer: Customer) -> None:
    created = _new(db, customer, charge=START + 1, record_unpaid=True)
    assert created == CreatedOrder(created.order_id, paid=False)
    assert _row(db, created.order_id).charge == 0
    assert _events(db, created.order_id) == [(None, "Pending", "test", "")]
    assert _entries(db, created.order_id) == []
    assert account_balance(db, customer.id)[0] == START


def test_an_active_link_is_taken_once(db: Database, customer: Customer) -> None:
    _new(db, customer, active_link="1:x.com/p/1")
    with pytest.raises(ActiveOrderExists):
        _new(db, customer, active_link="1:x.com/p/1")
    _new(db, customer, active_link="1:x.com/p/2")


def test_posts_are_numbered_and_charged_for_their_units(db: Database, customer: Customer) -> None:
    sub = make_service(db, type="Subscriptions", rate="0.90", min_quantity=50, max_quantity=500)
    params = {"username": "alice_ig", "min": "50", "max": "100"}
    sub_id = place_order(db, account_id=customer.id, service_id=sub, params=params).order_id
    with db.write() as session:
        parent = lock_order(session, sub_id)
        first = make_post(session, parent, quantity=60, actor="owner")
        # Not covered: kept uncharged, and still numbered.
        dear = make_post(session, parent, quantity=10**9, actor="owner", record_unpaid=True)
        third = make_post(session, parent, quantity=80, actor="owner", provider_order_id="77")
        posts = [(p.order.id, p.order.run_number, p.order.charge, p.paid) for p in (first, dear)]
    assert posts == [(first.order.id, 1, 5_400, True), (dear.order.id, 2, 0, False)]
    assert (third.order.run_number, third.order.provider_order_id) == (3, "77")
    assert _events(db, third.order.id) == [
        (None, "Pending", "owner", f"post 3 of subscription {sub_id} (upstream order 77): 80 units")
    ]
    assert _entries(db, first.order.id) == [
        (
            "charge",
            -5_400,
            f"charge:order:{first.order.id}",
            f"post 1 of subscription {sub_id}: 60 units",
        )
    ]
    assert _entries(db, dear.order.id) == []


def test_a_dripfeed_run_is_an_uncharged_child_order(db: Database, customer: Customer) -> None:
    params = {"link": "https://x.com/p/9", "quantity": 100, "runs": 3, "interval": 10}
    parent_id = place_order(db, account_id=customer.id, service_id=1, params=params).order_id
    now = utcnow()
    with db.write() as session:
        # As plan_fulfilment makes it for a provider-backed service.
        parent = lock_order(session, parent_id)
        parent.forward_state, parent.next_run_at = ForwardState.PARENT, now - timedelta(minutes=1)
    with db.write() as session:
        assert advance_parent(session, lock_order(session, parent_id), now=now) == 1
    with db.read() as session:
        run = session.scalars(select(Order).where(Order.parent_id == parent_id)).one()
        assert (run.run_number, run.quantity, run.total_quantity, run.charge, run.rate) == (
            1,
            100,
            100,
            0,
            90_000,
        )
        assert (run.kind, run.link, run.forward_state, run.active_link) == (
            "order",
            "https://x.com/p/9",
            ForwardState.QUEUED,
            None,
        )
    assert _events(db, run.id) == [
        (None, "Pending", "dripfeed", f"run 1 of 3 of drip-feed order {parent_id}")
    ]
    with db.read() as session:
        moves = session.execute(
            select(OrderEvent.from_forward, OrderEvent.to_forward, OrderEvent.actor).where(
                OrderEvent.order_id == run.id, OrderEvent.to_forward.is_not(None)
            )
        ).all()
    assert [tuple(m) for m in moves] == [(None, ForwardState.QUEUED, "dripfeed")]
    assert _entries(db, run.id) == []
    assert account_balance(db, customer.id)[0] == START - 27_000  # the parent paid 3 x 100
