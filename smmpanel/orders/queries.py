"""Reads over orders, refills and cancels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.orm import Session

from smmpanel.accounts.models import Account
from smmpanel.db import Database
from smmpanel.orders.models import (
    ACTIVE_STATUSES,
    KIND_SUBSCRIPTION,
    Cancel,
    ForwardState,
    Order,
    OrderEvent,
    Refill,
)


@dataclass(frozen=True)
class OrderView:
    """An order as its account and the owner see it.

    `charged` is what was debited for it and `refunded` what was given back
    of that (refunds and settlements); `charge` - what the order costs the
    account now - is the difference.  A subscription is charged through its
    posts: its amounts are the sums of its posts'.
    """

    id: int
    account_id: int
    username: str
    service_id: int
    kind: str
    link: str
    quantity: int
    runs: int | None
    interval: int | None
    total_quantity: int
    charged: int
    refunded: int
    currency: str
    status: str
    start_count: int | None
    remains: int
    created_at: datetime

    @property
    def charge(self) -> int:
        return self.charged - self.refunded


def orders_by_id(
    db: Database, order_ids: Sequence[int], *, account_id: int | None
) -> dict[int, OrderView]:
    """The given orders; with `account_id`, only that account's (others are absent,
    exactly as if they did not exist)."""
    if not order_ids:
        return {}
    with db.read() as session:
        return orders_by_id_in(session, order_ids, account_id=account_id)


def orders_by_id_in(
    reader: Session | Connection, order_ids: Sequence[int], *, account_id: int | None
) -> dict[int, OrderView]:
    """`orders_by_id` in the caller's transaction."""
    if not order_ids:
        return {}
    values: dict[str, Any] = {"ids": list(set(order_ids))}
    query = _BY_ID
    if account_id is not None:
        query, values["account_id"] = _BY_ID_OF_ACCOUNT, account_id
    views = _with_post_sums(
        reader, [OrderView(*tuple(row)) for row in reader.execute(query, values)]
    )
    return {view.id: view for view in views}


def _with_post_sums(reader: Session | Connection, views: list[OrderView]) -> list[OrderView]:
    """Subscriptions with the amounts of their posts (one query for all of them;
    none when there is no subscription among `views`)."""
    subscriptions = [view.id for view in views if view.kind == KIND_SUBSCRIPTION]
    if not subscriptions:
        return views
    sums = post_amounts(reader, subscriptions)
    return [
        replace(view, charged=sums.get(view.id, (0, 0))[0], refunded=sums.get(view.id, (0, 0))[1])
        if view.kind == KIND_SUBSCRIPTION
        else view
        for view in views
    ]


def post_amounts(
    reader: Session | Connection, subscription_ids: list[int]
) -> dict[int, tuple[int, int]]:
    """(charged, refunded) over the posts of each subscription that has any, in
    one query: what a subscription costs is what its posts cost."""
    if not subscription_ids:
        return {}
    return {
        int(parent or 0): (int(charged), int(refunded))
        for parent, charged, refunded in reader.execute(_POST_SUMS, {"ids": subscription_ids})
    }


def list_orders(
    db: Database,
    *,
    status: str | None = None,
    username: str | None = None,
    limit: int = 100,
    stale: bool = False,
    reconcile: bool = False,
    waiting: bool = False,
    stuck: bool = False,
) -> list[OrderView]:
    """Orders newest first; `stale`: only those flagged unchanged for too long;
    `reconcile`: only those whose forwarding outcome is unknown; `waiting`:
    only those waiting for a provider (paused or unreachable); `stuck`: only
    those whose forwarding failed (the owner resends or cancels them)."""
    query = _order_query().order_by(Order.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Order.status == status)
    if stale:
        query = query.where(Order.stale.is_(True), Order.status.in_(ACTIVE_STATUSES))
    if reconcile:
        query = query.where(Order.forward_state == ForwardState.RECONCILE)
    if waiting:
        query = query.where(Order.waiting_since.is_not(None), Order.status.in_(ACTIVE_STATUSES))
    if stuck:
        query = query.where(
            Order.forward_state == ForwardState.FAILED, Order.status.in_(ACTIVE_STATUSES)
        )
    if username is not None:
        query = query.where(Account.username == username)
    with db.read() as session:
        return _with_post_sums(session, [OrderView(*tuple(row)) for row in session.execute(query)])


def order_events(db: Database, order_id: int) -> list[OrderEvent]:
    with db.read() as session:
        return list(
            session.scalars(
                select(OrderEvent)
                # The status history: moves of the forwarding state are not in it.
                .where(OrderEvent.order_id == order_id, OrderEvent.to_forward.is_(None))
                .order_by(OrderEvent.id)
            )
        )


def _order_query():  # type: ignore[no-untyped-def]
    return select(*_VIEW_COLUMNS).join(Account, Account.id == Order.account_id)


def order_cost(reader: Session | Connection, order: Order) -> int:
    """What `order` costs its account now (charge - refunded; for a
    subscription, the sum over its posts), as `status` reports it."""
    if order.kind != KIND_SUBSCRIPTION:
        return order.charge - order.refunded
    posts = select(func.coalesce(func.sum(Order.charge - Order.refunded), 0)).where(
        Order.parent_id == order.id
    )
    return int(reader.execute(posts).scalar_one())


# Built once, and as plain columns, not Order entities: `status` runs it on
# every call, and building the statement and the ORM objects cost more than the
# query (measured in-process: 2,450 -> 4,000 status calls/s on SQLite).  The
# amounts come from the order's own row (refunds are kept on it), so `status`
# never reads the ledger; only subscriptions, whose amounts are their posts',
# cost one more query (`_with_post_sums`, for all of them at once).
_VIEW_COLUMNS = (
    Order.id,
    Order.account_id,
    Account.username,
    Order.service_id,
    Order.kind,
    Order.link,
    Order.quantity,
    Order.runs,
    Order.interval,
    Order.total_quantity,
    Order.charge,
    Order.refunded,
    Order.currency,
    Order.status,
    Order.start_count,
    Order.remains,
    Order.created_at,
)
_BY_ID = (
    select(*_VIEW_COLUMNS)
    .join(Account, Account.id == Order.account_id)
    .where(Order.id.in_(bindparam("ids", expanding=True)))
)
_BY_ID_OF_ACCOUNT = _BY_ID.where(Order.account_id == bindparam("account_id"))
_POST_SUMS = (
    select(Order.parent_id, func.sum(Order.charge), func.sum(Order.refunded))
    .where(Order.parent_id.in_(bindparam("ids", expanding=True)))
    .group_by(Order.parent_id)
)


@dataclass(frozen=True)
class RequestView:
    """A refill or cancel request."""

    id: int
    order_id: int
    account_id: int
    username: str
    status: str
    type: str
    created_at: datetime
    updated_at: datetime


def refills_by_id(
    db: Database, ids: Sequence[int], *, account_id: int | None
) -> dict[int, RequestView]:
    return _requests_by_id(db, Refill, ids, account_id)


def cancels_by_id(
    db: Database, ids: Sequence[int], *, account_id: int | None
) -> dict[int, RequestView]:
    return _requests_by_id(db, Cancel, ids, account_id)


def list_refills(db: Database, *, status: str | None = None, limit: int = 100) -> list[RequestView]:
    return _list_requests(db, Refill, status, limit)


def list_cancels(db: Database, *, status: str | None = None, limit: int = 100) -> list[RequestView]:
    return _list_requests(db, Cancel, status, limit)


def _requests_by_id(
    db: Database, model: type[Refill] | type[Cancel], ids: Sequence[int], account_id: int | None
) -> dict[int, RequestView]:
    if not ids:
        return {}
    query = select(model, Account.username).join(Account, Account.id == model.account_id)
    query = query.where(model.id.in_(set(ids)))
    if account_id is not None:
        query = query.where(model.account_id == account_id)
    with db.read() as session:
        rows = [_request_view(row[0], row[1]) for row in session.execute(query)]
    return {view.id: view for view in rows}


def _list_requests(
    db: Database, model: type[Refill] | type[Cancel], status: str | None, limit: int
) -> list[RequestView]:
    query = (
        select(model, Account.username)
        .join(Account, Account.id == model.account_id)
        .order_by(model.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(model.status == status)
    with db.read() as session:
        return [_request_view(row[0], row[1]) for row in session.execute(query)]


def _request_view(row: Any, username: str) -> RequestView:
    return RequestView(
        id=row.id,
        order_id=row.order_id,
        account_id=row.account_id,
        username=username,
        status=row.status,
        type=row.type if isinstance(row, Cancel) else "refill",
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def order_counts_by_account(db: Database) -> dict[int, int]:
    """How many orders each account has placed (accounts without any are absent)."""
    query = select(Order.account_id, func.count(Order.id)).group_by(Order.account_id)
    with db.read() as session:
        return {account_id: int(n) for account_id, n in session.execute(query)}
