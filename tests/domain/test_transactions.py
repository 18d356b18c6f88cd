"""Transactions compose: a command given the Database runs in a write
transaction of its own; given the caller's Session it joins that transaction
(no savepoint, no commit of its own) and stands or falls with it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smmpanel.accounts.queries import account_balance
from smmpanel.db import Database, TransactionDoomed, transaction
from smmpanel.ledger.errors import InsufficientFunds
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.orders.errors import IdempotencyConflict
from smmpanel.orders.models import IdempotencyKey, Order, OrderEvent
from smmpanel.orders.service import PlacedOrder, place_order
from tests.factories import Customer, make_customer, make_service

START = 10_000_000  # the customer's 100.00000 in minor units
COST = 90_000  # 1000 units at 0.90 per 1000
PARAMS = {"link": "https://x.com/p/1", "quantity": 1000}


@pytest.fixture
def customer(db: Database) -> Iterator[Customer]:
    make_service(db, rate="0.90", max_quantity=100_000_000)
    yield make_customer(db)
    assert find_balance_mismatches(db) == []


def _orders(db: Database) -> list[int]:
    with db.read() as session:
        return list(session.scalars(select(Order.id).order_by(Order.id)))


def _events(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count(OrderEvent.id))) or 0)


def _balance(db: Database, customer: Customer) -> int:
    return account_balance(db, customer.id)[0]


def _place(target: Database | Session, customer: Customer, link: str, **extra: object) -> int:
    placed = place_order(
        target,
        account_id=customer.id,
        service_id=1,
        params={"link": link, "quantity": 1000, **extra},
    )
    return placed.order_id


def test_a_command_alone_commits_its_own_transaction(db: Database, customer: Customer) -> None:
    placed = place_order(db, account_id=customer.id, service_id=1, params=PARAMS)
    assert placed == PlacedOrder(placed.order_id, replayed=False)
    assert _orders(db) == [placed.order_id]
    assert _events(db) == 1
    assert _balance(db, customer) == START - COST


def test_inside_a_transaction_it_joins_and_commits_with_it(
    db: Database, customer: Customer
) -> None:
    with db.write() as session:
        first = _place(session, customer, "https://x.com/p/1")
        second = _place(session, customer, "https://x.com/p/2")
        # Joined: nothing is committed before the caller's transaction ends.
        assert session.in_transaction()
        assert _orders(db) == []
        assert _balance(db, customer) == START
    assert _orders(db) == [first, second]
    assert _events(db) == 2
    assert _balance(db, customer) == START - 2 * COST


def test_a_joined_command_is_rolled_back_with_its_caller(db: Database, customer: Customer) -> None:
    with pytest.raises(RuntimeError, match="the caller changed its mind"), transaction(db) as tx:
        _place(tx, customer, "https://x.com/p/1")
        raise RuntimeError("the caller changed its mind")
    assert _orders(db) == []
    assert _events(db) == 0
    assert _balance(db, customer) == START


def test_a_failure_inside_rolls_back_the_whole_transaction(
    db: Database, customer: Customer
) -> None:
    with pytest.raises(InsufficientFunds), transaction(db) as session:
        _place(session, customer, "https://x.com/p/1")  # paid
        _place(session, customer, "https://x.com/p/2", quantity=10_000_000)  # too dear
    assert _orders(db) == []
    assert _balance(db, customer) == START


def test_a_swallowed_failure_still_rolls_back(db: Database, customer: Customer) -> None:
    """The caller cannot commit half of a failed command: the transaction is doomed."""
    with pytest.raises(TransactionDoomed, match="InsufficientFunds"), db.write() as session:
        _place(session, customer, "https://x.com/p/1")
        try:
            _place(session, customer, "https://x.com/p/2", quantity=10_000_000)
        except InsufficientFunds:
            pass
    assert _orders(db) == []
    assert _balance(db, customer) == START
    # The next transaction is a new one, not doomed.
    assert _place(db, customer, "https://x.com/p/3") == _orders(db)[0]


def test_nested_joins_share_one_transaction(db: Database, customer: Customer) -> None:
    with transaction(db) as outer:
        with transaction(outer) as inner:
            assert inner is outer
            _place(inner, customer, "https://x.com/p/1")
        assert _orders(db) == []
    assert len(_orders(db)) == 1


def test_only_an_open_write_transaction_can_be_joined(db: Database, customer: Customer) -> None:
    with db.read() as session, pytest.raises(RuntimeError, match=r"Database\.write"):
        _place(session, customer, "https://x.com/p/1")
    with db.write() as session:
        pass
    with pytest.raises(RuntimeError, match=r"Database\.write"):
        _place(session, customer, "https://x.com/p/1")  # its transaction has ended
    assert _orders(db) == []


def test_a_replay_is_a_normal_result_alone_and_joined(db: Database, customer: Customer) -> None:
    first = place_order(db, account_id=customer.id, service_id=1, params=PARAMS, request_id="req-1")
    assert first.replayed is False
    again = place_order(
        db, account_id=customer.id, service_id=1, params=PARAMS, request_id=" req-1 "
    )
    assert again == PlacedOrder(first.order_id, replayed=True)
    with db.write() as session:
        joined = place_order(
            session, account_id=customer.id, service_id=1, params=PARAMS, request_id="req-1"
        )
        # The caller's transaction goes on, usable, after a replay.
        assert session.get(IdempotencyKey, (customer.id, "req-1")) is not None
    assert joined == PlacedOrder(first.order_id, replayed=True)
    with pytest.raises(IdempotencyConflict):
        place_order(
            db,
            account_id=customer.id,
            service_id=1,
            params={**PARAMS, "quantity": 2000},
            request_id="req-1",
        )
    assert _orders(db) == [first.order_id]
    assert _balance(db, customer) == START - COST
