"""Making an order: the one function every new order goes through.

A placed order (orders/service.py), a drip-feed run (orders/dripfeed.py) and a
subscription's post (orders/posts.py) are all rows of `orders` created by
``create_order``: the row, its first event (Pending, with the actor) and its
charge through the ledger, in the caller's transaction.  What differs between
them is what they pass: a run is charged nothing (its parent paid for every
run), a post is charged for its units as it is made.

The order is inserted with Core, not the ORM unit of work: on the API's hot
path the ORM doubled the cost of placing an order (measured).  A caller that
goes on working with the order loads it (``session.get``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smmpanel.ledger import causes
from smmpanel.ledger import models as ledger_models
from smmpanel.ledger.errors import InsufficientFunds
from smmpanel.ledger.service import post_fresh_entry
from smmpanel.orders.errors import ActiveOrderExists
from smmpanel.orders.models import PENDING, Order, OrderEvent
from smmpanel.timeutil import utcnow

ACTIVE_LINK_MESSAGE = (
    "You have active order with this link. Please wait until order being completed."
)


class CreatedOrder(NamedTuple):
    order_id: int
    # False when the balance did not cover the charge and the caller asked for
    # the order to be recorded all the same, uncharged (`record_unpaid`).
    paid: bool = True


def create_order(
    session: Session,
    *,
    account_id: int,
    service_id: int,
    kind: str,
    link: str,
    quantity: int,
    rate: int,
    charge: int,
    currency: str,
    params: dict[str, Any],
    actor: str,
    total_quantity: int | None = None,
    runs: int | None = None,
    interval: int | None = None,
    package: bool = False,
    active_link: str | None = None,
    parent_id: int | None = None,
    run_number: int | None = None,
    provider_id: int | None = None,
    provider_order_id: str | None = None,
    forward_state: str | None = None,
    note: str = "",
    charge_note: str = "",
    record_unpaid: bool = False,
    now: datetime | None = None,
) -> CreatedOrder:
    """Insert a Pending order with its first event, and debit its `charge`
    (minor units; 0 charges nothing) with the cause ``charge:order:<id>``.

    `total_quantity` is quantity x runs for a drip-feed order (default
    `quantity`); the order starts with all of it remaining.  `active_link` is
    the duplicate-link key (ActiveOrderExists when an active order holds it).
    When the balance does not cover `charge`: InsufficientFunds (the caller's
    transaction is void), or with `record_unpaid` the order is kept with
    charge 0 and ``paid=False``, for the caller to end it.
    """
    now = now or utcnow()
    values = order_row(
        account_id=account_id,
        service_id=service_id,
        kind=kind,
        link=link,
        quantity=quantity,
        total_quantity=total_quantity,
        runs=runs,
        interval=interval,
        rate=rate,
        charge=charge,
        package=package,
        currency=currency,
        params=params,
        active_link=active_link,
        now=now,
    )
    # A child order's columns only when given: a placed order's INSERT stays
    # the statement it was (each bound column costs time on the hot path).
    child = {
        "provider_id": provider_id,
        "provider_order_id": provider_order_id,
        "forward_state": forward_state,
        "parent_id": parent_id,
        "run_number": run_number,
    }
    values.update((name, value) for name, value in child.items() if value is not None)
    # Its statements go to the session's connection, not through the ORM's
    # execute (~20 us more a statement, measured): flushed first, so that they
    # see what the caller changed through the ORM (an active link released).
    session.flush()
    connection = session.connection()
    order_id = _insert_order(connection, values)
    paid = _debit(session, order_id, account_id, charge, actor, charge_note, record_unpaid)
    connection.execute(_INSERT_EVENT, placed_event_row(order_id, actor, note, now))
    return CreatedOrder(order_id, paid)


def order_row(
    *,
    account_id: int,
    service_id: int,
    kind: str,
    link: str,
    quantity: int,
    total_quantity: int | None,
    runs: int | None,
    interval: int | None,
    rate: int,
    charge: int,
    package: bool,
    currency: str,
    params: dict[str, Any],
    active_link: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The columns of a new Pending order (create_order's, and the bulk writer's
    in orders/bulk_place.py), with all of its quantity remaining."""
    total = quantity if total_quantity is None else total_quantity
    return {
        "account_id": account_id,
        "service_id": service_id,
        "kind": kind,
        "link": link,
        "quantity": quantity,
        "runs": runs,
        "interval": interval,
        "total_quantity": total,
        "rate": rate,
        "charge": charge,
        "package": package,
        "currency": currency,
        "status": PENDING,
        "remains": total,
        "params": params,
        "active_link": active_link,
        "created_at": now,
        "updated_at": now,
    }


def placed_event_row(order_id: int, actor: str, note: str, now: datetime) -> dict[str, Any]:
    """The first event of a new order: Pending, by `actor`."""
    return {
        "order_id": order_id,
        "to_status": PENDING,
        "actor": actor,
        "note": note[:500],
        "created_at": now,
    }


def _debit(
    session: Session,
    order_id: int,
    account_id: int,
    charge: int,
    actor: str,
    note: str,
    record_unpaid: bool,
) -> bool:
    """Post the order's charge; False when the balance did not cover it and the
    order is kept uncharged (`record_unpaid`)."""
    if not charge:
        return True
    try:
        # The order was inserted just now: its charge cannot exist yet.
        post_fresh_entry(
            session,
            account_id=account_id,
            kind=ledger_models.CHARGE,
            amount=-charge,
            actor=actor,
            cause=causes.order_charge(order_id),
            order_id=order_id,
            note=note,
        )
    except InsufficientFunds:
        if not record_unpaid:
            raise
        # The refused debit changed nothing (one conditional UPDATE that
        # matched no row); the order is recorded as not charged.
        session.connection().execute(_UNCHARGE, {"order_id": order_id})
        return False
    return True


def _insert_order(connection: Connection, values: dict[str, Any]) -> int:
    """Insert the order row; returns its id."""
    link = values["active_link"]
    if link is not None and connection.execute(_LINK_TAKEN, {"link": link}).first() is not None:
        raise ActiveOrderExists(ACTIVE_LINK_MESSAGE)
    try:
        return int(connection.execute(_INSERT_ORDER, values).scalar_one())
    except IntegrityError as exc:
        # A concurrent order took the link between our check and our insert;
        # the whole transaction is void anyway, so no savepoint is needed.
        if link is not None and "active_link" in str(exc.orig):
            raise ActiveOrderExists(ACTIVE_LINK_MESSAGE) from None
        raise


# Statements of the hot path are built once (building one per call cost as much
# as running it).
_ORDERS = cast(Table, Order.__table__)
_INSERT_ORDER = insert(_ORDERS).returning(_ORDERS.c.id)
_INSERT_EVENT = insert(cast(Table, OrderEvent.__table__))
_LINK_TAKEN = select(Order.id).where(Order.active_link == bindparam("link")).limit(1)
_UNCHARGE = update(_ORDERS).where(_ORDERS.c.id == bindparam("order_id")).values(charge=0)
