"""What waits for staff in the orders context: open refill and cancel requests,
and orders whose forwarding failed or whose outcome upstream is unknown.

Read by the admin's queues (one row per item, with what a decision needs to
know: the order, its customer, its charge); the decisions themselves are the
commands `resolve_refill`, `resolve_cancel`, `resend_order`,
`adopt_upstream_order` and `cancel_unforwarded_order`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from smmpanel.accounts.models import Account
from smmpanel.catalog.models import Service
from smmpanel.db import Database
from smmpanel.orders.models import (
    ACTIVE_STATUSES,
    REFILL_OPEN,
    REQUEST_PENDING,
    Cancel,
    ForwardState,
    Order,
    Refill,
)
from smmpanel.timeutil import as_utc

# A queue shows at most this many items, oldest first (the longest waiting).
QUEUE_LIMIT = 200
# Forwarding states of orders that wait for staff: the job gave up, or the
# upstream may or may not have the order.
NEEDS_STAFF = (ForwardState.FAILED, ForwardState.RECONCILE)


@dataclass(frozen=True)
class RequestItem:
    """An open refill or cancel request, with its order."""

    id: int
    order_id: int
    account_id: int
    username: str
    status: str
    type: str  # "refill", or the cancel's order kind
    forward_state: str | None  # the request's own, for a provider-backed order
    order_status: str
    link: str
    service_id: int
    service_name: str
    charge: int  # what the order costs the account now
    currency: str
    created_at: datetime


@dataclass(frozen=True)
class StuckOrder:
    """An active order that waits for staff at its provider."""

    id: int
    account_id: int
    username: str
    service_id: int
    service_name: str
    link: str
    status: str
    forward_state: str
    forward_error: str
    provider_order_id: str | None
    charge: int
    currency: str
    created_at: datetime


@dataclass(frozen=True)
class QueueCounts:
    refills: int
    cancels: int
    orders: int


def _open_refills() -> Any:
    return Refill.status.in_(REFILL_OPEN)


def _open_cancels() -> Any:
    return Cancel.status == REQUEST_PENDING


def _stuck() -> Any:
    return Order.forward_state.in_([s.value for s in NEEDS_STAFF]) & Order.status.in_(
        ACTIVE_STATUSES
    )


def open_refills(db: Database, *, limit: int = QUEUE_LIMIT) -> list[RequestItem]:
    """Refill requests still open (Pending, In progress), oldest first."""
    return _requests(db, Refill, _open_refills(), limit)


def open_cancels(db: Database, *, limit: int = QUEUE_LIMIT) -> list[RequestItem]:
    """Cancel requests still pending, oldest first."""
    return _requests(db, Cancel, _open_cancels(), limit)


def _requests(
    db: Database, model: type[Refill] | type[Cancel], pending: Any, limit: int
) -> list[RequestItem]:
    query = (
        select(model, Order, Account.username, Service.name)
        .join(Order, Order.id == model.order_id)
        .join(Account, Account.id == model.account_id)
        .join(Service, Service.id == Order.service_id)
        .where(pending)
        .order_by(model.id)
        .limit(limit)
    )
    with db.read() as session:
        return [_request_item(*row) for row in session.execute(query)]


def _request_item(request: Any, order: Order, username: str, service_name: str) -> RequestItem:
    return RequestItem(
        id=request.id,
        order_id=order.id,
        account_id=request.account_id,
        username=username,
        status=request.status,
        type=request.type if isinstance(request, Cancel) else "refill",
        forward_state=request.forward_state,
        order_status=order.status,
        link=order.link,
        service_id=order.service_id,
        service_name=service_name,
        charge=order.charge - order.refunded,
        currency=order.currency,
        created_at=as_utc(request.created_at),
    )


def orders_needing_staff(db: Database, *, limit: int = QUEUE_LIMIT) -> list[StuckOrder]:
    """Active orders whose forwarding failed (`smmpanel orders list --stuck`) or
    whose outcome upstream is unknown (`--reconcile`), oldest first."""
    query = (
        select(Order, Account.username, Service.name)
        .join(Account, Account.id == Order.account_id)
        .join(Service, Service.id == Order.service_id)
        .where(_stuck())
        .order_by(Order.id)
        .limit(limit)
    )
    with db.read() as session:
        return [
            StuckOrder(
                id=order.id,
                account_id=order.account_id,
                username=username,
                service_id=order.service_id,
                service_name=service_name,
                link=order.link,
                status=order.status,
                forward_state=str(order.forward_state),
                forward_error=order.forward_error,
                provider_order_id=order.provider_order_id,
                charge=order.charge - order.refunded,
                currency=order.currency,
                created_at=as_utc(order.created_at),
            )
            for order, username, service_name in session.execute(query)
        ]


def queue_counts(db: Database) -> QueueCounts:
    """How many items wait in each queue (all of them, not only a page)."""
    with db.read() as session:
        refills = session.scalar(select(func.count(Refill.id)).where(_open_refills()))
        cancels = session.scalar(select(func.count(Cancel.id)).where(_open_cancels()))
        orders = session.scalar(select(func.count(Order.id)).where(_stuck()))
    return QueueCounts(int(refills or 0), int(cancels or 0), int(orders or 0))


def order_needing_staff(db: Database, order_id: int) -> str | None:
    """The order's forwarding state when it waits for staff (failed, reconcile),
    else None: the queue decides only what it lists."""
    with db.read() as session:
        found = session.scalar(select(Order.forward_state).where(Order.id == order_id, _stuck()))
    return None if found is None else str(found)
