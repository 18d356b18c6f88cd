"""Status changes of orders and the money they move, through the domain
commands: update_order, request/resolve refill and cancel.  Every scenario
ends with the ledger agreeing with the cached balances."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta

import pytest

from smmpanel.accounts.queries import account_balance
from smmpanel.db import Database
from smmpanel.ledger.queries import find_balance_mismatches, list_entries
from smmpanel.orders.errors import (
    CancelAlreadyRequested,
    CancelDisabled,
    CancelNotFound,
    InvalidStatusChange,
    NotEligibleForCancel,
    NotEligibleForRefill,
    OrderNotFound,
    RefillAlreadyRequested,
    RefillDisabled,
    RefillNotFound,
)
from smmpanel.orders.models import Order
from smmpanel.orders.queries import (
    OrderView,
    cancels_by_id,
    order_events,
    orders_by_id,
    refills_by_id,
)
from smmpanel.orders.requests import (
    request_cancel,
    request_refill,
    resolve_cancel,
    resolve_refill,
)
from smmpanel.orders.service import place_order, update_order
from smmpanel.panel.settings import put_setting
from smmpanel.timeutil import utcnow
from tests.factories import Customer, make_customer, make_service

START = 10_000_000  # the customer's 100.00000 in minor units


@pytest.fixture
def customer(db: Database) -> Iterator[Customer]:
    yield make_customer(db)
    # Whatever the scenario did, the cached balances equal the ledger sums.
    assert find_balance_mismatches(db) == []


_links = itertools.count(1)


def _place(
    db: Database, customer: Customer, service_id: int, quantity: int, **extra: object
) -> int:
    link = f"https://x.com/p/{next(_links)}"  # a new link each time: no duplicate refusal
    params = {"link": link, "quantity": quantity, **extra}
    return place_order(db, account_id=customer.id, service_id=service_id, params=params).order_id


def _order(db: Database, order_id: int) -> OrderView:
    return orders_by_id(db, [order_id], account_id=None)[order_id]


def _balance(db: Database, customer: Customer) -> int:
    return account_balance(db, customer.id)[0]


def _entries(db: Database, customer: Customer) -> list[tuple[str, int, str | None, int | None]]:
    """(kind, amount, cause, order id) oldest first."""
    return [
        (e.kind, e.amount, e.cause, e.order_id)
        for e in reversed(list_entries(db, account_id=customer.id))
    ]


def test_pending_in_progress_completed_refunds_nothing(db: Database, customer: Customer) -> None:
    make_service(db, rate="0.90")
    order_id = _place(db, customer, 1, 1000)
    assert _balance(db, customer) == START - 90_000
    assert update_order(db, order_id=order_id, status="In progress", start_count=120, remains=700)
    view = _order(db, order_id)
    assert (view.status, view.start_count, view.remains) == ("In progress", 120, 700)
    assert update_order(db, order_id=order_id, status="Processing")
    assert update_order(db, order_id=order_id, status="Completed")
    view = _order(db, order_id)
    assert (view.status, view.remains, view.charge) == ("Completed", 0, 90_000)
    assert _balance(db, customer) == START - 90_000
    assert _entries(db, customer) == [
        ("topup", START, None, None),
        ("charge", -90_000, f"charge:order:{order_id}", order_id),
    ]
    history = [(e.from_status, e.to_status) for e in order_events(db, order_id)]
    assert history == [
        (None, "Pending"),
        ("Pending", "In progress"),
        ("In progress", "Processing"),
        ("Processing", "Completed"),
    ]


def test_partial_refunds_remains_rounded_half_up_once(db: Database, customer: Customer) -> None:
    make_service(db, rate="0.12345")  # 12_345 units per 1000
    order_id = _place(db, customer, 1, 1000)
    assert _order(db, order_id).charge == 12_345
    update_order(db, order_id=order_id, status="In progress", start_count=0)
    # 100 x 12345 / 1000 = 1234.5 units: half up -> 1235 (banker's would give 1234).
    assert update_order(db, order_id=order_id, status="Partial", remains=100)
    assert _balance(db, customer) == START - 12_345 + 1_235
    # Repeating the same status changes nothing and refunds nothing more.
    assert not update_order(db, order_id=order_id, status="Partial", remains=100)
    assert not update_order(db, order_id=order_id, status="Partial")
    for status in ("Canceled", "Completed", "In progress", "Pending"):
        with pytest.raises(InvalidStatusChange):
            update_order(db, order_id=order_id, status=status)
    # Final remains cannot move either: the refund was made for 100.
    with pytest.raises(InvalidStatusChange):
        update_order(db, order_id=order_id, status="Partial", remains=900)
    assert _order(db, order_id).remains == 100
    assert _entries(db, customer)[1:] == [
        ("charge", -12_345, f"charge:order:{order_id}", order_id),
        ("refund", 1_235, f"refund:order:{order_id}", order_id),
    ]


def test_partial_needs_remains_between_one_and_the_quantity(
    db: Database, customer: Customer
) -> None:
    make_service(db, rate="1")
    order_id = _place(db, customer, 1, 500)
    for remains in (0, 501, -1):
        with pytest.raises(InvalidStatusChange):
            update_order(db, order_id=order_id, status="Partial", remains=remains)
    # Nothing delivered at all: Partial with every unit remaining refunds everything.
    update_order(db, order_id=order_id, status="Partial", remains=500)
    assert _balance(db, customer) == START


def test_canceled_refunds_everything_once(db: Database, customer: Customer) -> None:
    make_service(db, rate="0.90", dripfeed=True)
    order_id = _place(db, customer, 1, 1000, runs=3, interval=10)
    assert _order(db, order_id).charge == 270_000
    update_order(db, order_id=order_id, status="In progress", remains=1500)
    assert update_order(db, order_id=order_id, status="Canceled")
    assert _balance(db, customer) == START
    assert not update_order(db, order_id=order_id, status="Canceled")
    with pytest.raises(InvalidStatusChange):
        update_order(db, order_id=order_id, status="Partial", remains=10)
    refunds = [e for e in _entries(db, customer) if e[0] == "refund"]
    assert refunds == [("refund", 270_000, f"refund:order:{order_id}", order_id)]


def test_completed_is_final(db: Database, customer: Customer) -> None:
    make_service(db, rate="2")
    order_id = _place(db, customer, 1, 100)
    update_order(db, order_id=order_id, status="Completed")
    for status in ("Pending", "In progress", "Processing", "Partial", "Canceled"):
        with pytest.raises(InvalidStatusChange):
            update_order(db, order_id=order_id, status=status, remains=50)
    with pytest.raises(InvalidStatusChange):
        update_order(db, order_id=order_id, status="Done")
    with pytest.raises(OrderNotFound):
        update_order(db, order_id=999, status="Completed")
    assert _balance(db, customer) == START - 20_000


def test_dripfeed_partial_refunds_undelivered_runs(db: Database, customer: Customer) -> None:
    make_service(db, rate="0.90", dripfeed=True)
    order_id = _place(db, customer, 1, 100, runs=4, interval=60)
    view = _order(db, order_id)
    assert (view.kind, view.total_quantity, view.remains, view.charge) == (
        "dripfeed",
        400,
        400,
        36_000,
    )
    update_order(db, order_id=order_id, status="Partial", remains=250)  # 1.5 runs delivered
    assert _balance(db, customer) == START - 36_000 + 22_500


def test_package_partial_refund_is_proportional(db: Database, customer: Customer) -> None:
    make_service(db, name="Pack", type="Custom Comments Package", rate="10", min_quantity=1)
    link = "https://x.com/pack"
    comments = "a\nb\nc"
    order_id = place_order(
        db, account_id=customer.id, service_id=1, params={"link": link, "comments": comments}
    ).order_id
    assert _order(db, order_id).charge == 1_000_000
    update_order(db, order_id=order_id, status="Partial", remains=1)
    # A third of the package is undelivered: 10 / 3 = 3.333333 -> 3.33333.
    assert _balance(db, customer) == START - 1_000_000 + 333_333


def test_completed_cancel_request_cancels_and_refunds(db: Database, customer: Customer) -> None:
    make_service(db, rate="1.5", cancel=True)
    order_id = _place(db, customer, 1, 1000)
    cancel_id, kind = request_cancel(db, account_id=customer.id, order_id=order_id)
    assert kind == "order"
    with pytest.raises(CancelAlreadyRequested):
        request_cancel(db, account_id=customer.id, order_id=order_id)
    resolve_cancel(db, cancel_id=cancel_id, status="Completed")
    assert _order(db, order_id).status == "Canceled"
    assert cancels_by_id(db, [cancel_id], account_id=customer.id)[cancel_id].status == "Completed"
    assert _balance(db, customer) == START
    # Resolving again changes nothing; a different answer is refused.
    resolve_cancel(db, cancel_id=cancel_id, status="Completed")
    with pytest.raises(InvalidStatusChange):
        resolve_cancel(db, cancel_id=cancel_id, status="Rejected")
    assert [e[0] for e in _entries(db, customer)] == ["topup", "charge", "refund"]
    # A canceled order cannot be cancelled again.
    with pytest.raises(NotEligibleForCancel):
        request_cancel(db, account_id=customer.id, order_id=order_id)


def test_rejected_cancel_changes_nothing(db: Database, customer: Customer) -> None:
    make_service(db, rate="1.5", cancel=True)
    order_id = _place(db, customer, 1, 1000)
    cancel_id, _ = request_cancel(db, account_id=customer.id, order_id=order_id)
    resolve_cancel(db, cancel_id=cancel_id, status="Rejected")
    assert _order(db, order_id).status == "Pending"
    assert _balance(db, customer) == START - 150_000
    # Once rejected, the customer may ask again.
    second, _ = request_cancel(db, account_id=customer.id, order_id=order_id)
    assert second == cancel_id + 1
    with pytest.raises(InvalidStatusChange):
        resolve_cancel(db, cancel_id=second, status="Done")
    with pytest.raises(CancelNotFound):
        resolve_cancel(db, cancel_id=999, status="Completed")


@pytest.mark.parametrize(
    ("ending", "remains", "closed_as"),
    [
        ("Completed", None, "Rejected"),
        ("Partial", 400, "Completed"),
        ("Canceled", None, "Completed"),
    ],
)
def test_an_order_ending_by_hand_closes_its_pending_cancel(
    db: Database, customer: Customer, ending: str, remains: int | None, closed_as: str
) -> None:
    make_service(db, rate="1.5", cancel=True)
    order_id = _place(db, customer, 1, 1000)
    cancel_id, _ = request_cancel(db, account_id=customer.id, order_id=order_id)
    update_order(db, order_id=order_id, status=ending, remains=remains)
    assert cancels_by_id(db, [cancel_id], account_id=customer.id)[cancel_id].status == closed_as
    assert _order(db, order_id).status == ending
    with pytest.raises(InvalidStatusChange):  # closed: the owner cannot flip it
        resolve_cancel(
            db, cancel_id=cancel_id, status="Completed" if closed_as == "Rejected" else "Rejected"
        )


def test_cancel_eligibility(db: Database, customer: Customer) -> None:
    make_service(db, name="No cancel", rate="1", dripfeed=True)
    make_service(db, name="Subs", type="Subscriptions", rate="1", min_quantity=1)
    plain = _place(db, customer, 1, 100)
    with pytest.raises(CancelDisabled):
        request_cancel(db, account_id=customer.id, order_id=plain)
    # Drip-feed runs and subscriptions can always be stopped.
    drip = _place(db, customer, 1, 100, runs=2, interval=5)
    assert request_cancel(db, account_id=customer.id, order_id=drip)[1] == "dripfeed"
    sub = place_order(
        db,
        account_id=customer.id,
        service_id=2,
        params={"username": "someone", "min": 1, "max": 5},
    ).order_id
    assert request_cancel(db, account_id=customer.id, order_id=sub)[1] == "subscription"
    # Someone else's order is not found.
    other = make_customer(db, "bob")
    with pytest.raises(OrderNotFound):
        request_cancel(db, account_id=other.id, order_id=drip)


def test_refill_eligibility(db: Database, customer: Customer) -> None:
    make_service(db, name="Refillable", rate="1", refill=True)
    make_service(db, name="No refill", rate="1")
    order_id = _place(db, customer, 1, 100)
    with pytest.raises(NotEligibleForRefill):
        request_refill(db, account_id=customer.id, order_id=order_id)  # not completed yet
    update_order(db, order_id=order_id, status="Completed")
    refill_id = request_refill(db, account_id=customer.id, order_id=order_id)
    with pytest.raises(RefillAlreadyRequested):
        request_refill(db, account_id=customer.id, order_id=order_id)
    # In progress is still open; a closed refill lets the next one through.
    resolve_refill(db, refill_id=refill_id, status="In progress")
    with pytest.raises(RefillAlreadyRequested):
        request_refill(db, account_id=customer.id, order_id=order_id)
    resolve_refill(db, refill_id=refill_id, status="Completed")
    with pytest.raises(InvalidStatusChange):
        resolve_refill(db, refill_id=refill_id, status="Pending")
    with pytest.raises(InvalidStatusChange):
        resolve_refill(db, refill_id=refill_id, status="Done")
    with pytest.raises(RefillNotFound):
        resolve_refill(db, refill_id=999, status="Completed")
    again = request_refill(db, account_id=customer.id, order_id=order_id)
    assert refills_by_id(db, [refill_id, again], account_id=customer.id)[again].status == (
        "Pending"
    )

    disabled = _place(db, customer, 2, 100)
    update_order(db, order_id=disabled, status="Completed")
    with pytest.raises(RefillDisabled):
        request_refill(db, account_id=customer.id, order_id=disabled)
    partial = _place(db, customer, 1, 200)
    update_order(db, order_id=partial, status="Partial", remains=20)
    with pytest.raises(NotEligibleForRefill):
        request_refill(db, account_id=customer.id, order_id=partial)
    with pytest.raises(OrderNotFound):
        request_refill(db, account_id=make_customer(db, "bob").id, order_id=order_id)
    # Refills move no money.
    assert [e[0] for e in _entries(db, customer)] == [
        "topup",
        "charge",
        "charge",
        "charge",
        "refund",
    ]


def _complete_days_ago(db: Database, order_id: int, days: float) -> None:
    update_order(db, order_id=order_id, status="Completed")
    with db.write() as session:
        order = session.get(Order, order_id)
        assert order is not None
        order.completed_at = utcnow() - timedelta(days=days)


def test_refill_window(db: Database, customer: Customer) -> None:
    make_service(db, name="Default window", rate="1", refill=True)
    make_service(db, name="Two days", rate="1", refill=True, refill_days=2)
    recent, old = _place(db, customer, 1, 100), _place(db, customer, 1, 101)
    _complete_days_ago(db, recent, 29.9)
    _complete_days_ago(db, old, 30.1)
    # The panel's default window is 30 days.
    assert request_refill(db, account_id=customer.id, order_id=recent)
    with pytest.raises(NotEligibleForRefill):
        request_refill(db, account_id=customer.id, order_id=old)
    # The owner widens the default; a service's own window wins over it.
    with db.write() as session:
        put_setting(session, "default_refill_days", "45")
    assert request_refill(db, account_id=customer.id, order_id=old)
    inside, outside = _place(db, customer, 2, 100), _place(db, customer, 2, 101)
    _complete_days_ago(db, inside, 1.9)
    _complete_days_ago(db, outside, 2.1)
    assert request_refill(db, account_id=customer.id, order_id=inside)
    with pytest.raises(NotEligibleForRefill):
        request_refill(db, account_id=customer.id, order_id=outside)


def test_subscription_charges_nothing_at_placement(db: Database, customer: Customer) -> None:
    make_service(db, name="Subs", type="Subscriptions", rate="5", min_quantity=1)
    order_id = place_order(
        db,
        account_id=customer.id,
        service_id=1,
        params={"username": "someone", "min": 10, "max": 20},
    ).order_id
    view = _order(db, order_id)
    assert (view.kind, view.charge, view.link) == ("subscription", 0, "someone")
    update_order(db, order_id=order_id, status="Canceled")
    assert _balance(db, customer) == START
    assert [e[0] for e in _entries(db, customer)] == ["topup"]
