"""One customer's orders, refills and cancels as the customer web lists them:
keyset pages (newest first, by id; never OFFSET, so the 1,000th page costs what
the first does), status tabs, search by id or link, and what each order allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session

from smmpanel.catalog.models import Service
from smmpanel.db import Database
from smmpanel.orders.models import (
    COMPLETED,
    KIND_SUBSCRIPTION,
    REFILL_OPEN,
    REQUEST_PENDING,
    Cancel,
    Order,
    OrderEvent,
    Refill,
)
from smmpanel.orders.queries import post_amounts
from smmpanel.orders.requests import cancel_refusal, refill_refusal
from smmpanel.panel.settings import get_int
from smmpanel.timeutil import as_utc, utcnow

PAGE_SIZE = 50
MAX_SEARCH = 200
# The average completion time is taken over this many recent completed orders.
COMPLETION_SAMPLE = 100


@dataclass(frozen=True)
class OrderRow:
    """An order as its customer's lists show it, with what it allows now."""

    id: int
    created_at: datetime
    link: str
    kind: str
    service_id: int
    service_name: str
    quantity: int
    runs: int | None
    interval: int | None
    total_quantity: int
    charge: int  # what it costs the account now (charged - refunded)
    currency: str
    status: str
    start_count: int | None
    remains: int
    parent_id: int | None
    can_refill: bool
    can_cancel: bool
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One page of a list, newest first, and the ids to page from."""

    rows: list[Any]
    older: int | None  # pass as `before` for the next (older) page
    newer: int | None  # pass as `after` for the previous (newer) page


@dataclass(frozen=True)
class RequestRow:
    id: int
    order_id: int
    status: str
    type: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class OrderDetail:
    order: OrderRow
    events: list[OrderEvent]
    refills: list[RequestRow]
    cancels: list[RequestRow]
    children: list[OrderRow]  # drip-feed runs or subscription posts


def refill_allowed(
    *, service_refill: bool, status: str, completed_at: datetime | None, days: int, now: datetime
) -> bool:
    """Whether `request_refill` would take a refill of the order (its rule)."""
    refused = refill_refusal(
        service_refill=service_refill, status=status, completed_at=completed_at, days=days, now=now
    )
    return refused is None


def cancel_allowed(*, service_cancel: bool, kind: str, status: str) -> bool:
    """Whether `request_cancel` would take a cancel of the order (its rule)."""
    return cancel_refusal(service_cancel=service_cancel, kind=kind, status=status) is None


_COLUMNS = (
    Order.id,
    Order.created_at,
    Order.link,
    Order.kind,
    Order.service_id,
    Service.name,
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
    Order.parent_id,
    Order.completed_at,
    Service.refill,
    Service.refill_days,
    Service.cancel,
    Order.params,
)


def list_account_orders(
    db: Database,
    *,
    account_id: int,
    status: str | None = None,
    search: str = "",
    before: int | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    """The account's orders (not drip-feed runs or subscription posts: those are
    on their parent's page), newest first, `limit` of them older than `before`
    or newer than `after`.  `search`: an order id, or a part of the link."""
    query = (
        select(*_COLUMNS)
        .join(Service, Service.id == Order.service_id)
        .where(Order.account_id == account_id, Order.parent_id.is_(None))
    )
    if status is not None:
        query = query.where(Order.status == status)
    query = _searched(query, search[:MAX_SEARCH].strip())
    with db.read() as session:
        rows, older, newer = _keyset(session, query, Order.id, before, after, limit)
        return Page(_order_rows(session, rows), older, newer)


def _searched(query: Select[Any], search: str) -> Select[Any]:
    """A number finds the order of that id (an index lookup); any other text,
    the orders whose link contains it (a scan of the account's orders: 30 ms at
    100,000 on SQLite, bench/bench_web_orders.py)."""
    if not search:
        return query
    if search.isascii() and search.isdigit():
        return query.where(Order.id == int(search)) if len(search) <= 9 else query.where(false())
    # LIKE's own wildcards in the text are matched literally.
    pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return query.where(Order.link.like(pattern, escape="\\"))


def _keyset(
    session: Session,
    query: Select[Any],
    key: Any,
    before: int | None,
    after: int | None,
    limit: int,
) -> tuple[list[Any], int | None, int | None]:
    """`limit` rows newest first from `before` (exclusive) down, or from `after`
    up; one more row is read to know whether another page follows."""
    if after is not None and before is None:
        rows = list(session.execute(query.where(key > after).order_by(key.asc()).limit(limit + 1)))
        more_newer = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        older = rows[-1].id if rows else None
        return rows, older, rows[0].id if rows and more_newer else None
    if before is not None:
        query = query.where(key < before)
    rows = list(session.execute(query.order_by(key.desc()).limit(limit + 1)))
    more_older = len(rows) > limit
    rows = rows[:limit]
    older = rows[-1].id if rows and more_older else None
    newer = rows[0].id if rows and before is not None else None
    return rows, older, newer


def _order_rows(session: Session, rows: list[Any]) -> list[OrderRow]:
    now = utcnow()
    default_days = get_int(session, "default_refill_days") if rows else 0
    # A subscription costs what its posts cost.
    post_sums = {
        parent: charged - refunded
        for parent, (charged, refunded) in post_amounts(
            session, [row.id for row in rows if row.kind == KIND_SUBSCRIPTION]
        ).items()
    }
    return [
        OrderRow(
            id=row.id,
            created_at=as_utc(row.created_at),
            link=row.link,
            kind=row.kind,
            service_id=row.service_id,
            service_name=row.name,
            quantity=row.quantity,
            runs=row.runs,
            interval=row.interval,
            total_quantity=row.total_quantity,
            charge=post_sums.get(row.id, 0)
            if row.kind == KIND_SUBSCRIPTION
            else row.charge - row.refunded,
            currency=row.currency,
            status=row.status,
            start_count=row.start_count,
            remains=row.remains,
            parent_id=row.parent_id,
            can_refill=row.parent_id is None
            and refill_allowed(
                service_refill=row.refill,
                status=row.status,
                completed_at=row.completed_at,
                days=row.refill_days or default_days,
                now=now,
            ),
            can_cancel=row.parent_id is None
            and cancel_allowed(service_cancel=row.cancel, kind=row.kind, status=row.status),
            params=dict(row.params or {}),
        )
        for row in rows
    ]


def account_order(db: Database, *, account_id: int, order_id: int) -> OrderDetail | None:
    """One order of the account with its history, requests and child orders;
    None when the account has no such order (another's is not found either)."""
    base = (
        select(*_COLUMNS)
        .join(Service, Service.id == Order.service_id)
        .where(Order.account_id == account_id)
    )
    with db.read() as session:
        found = _order_rows(session, list(session.execute(base.where(Order.id == order_id))))
        if not found:
            return None
        events = list(
            session.scalars(
                # Its status history; forwarding moves (to_forward set) are the owner's.
                select(OrderEvent)
                .where(OrderEvent.order_id == order_id, OrderEvent.to_forward.is_(None))
                .order_by(OrderEvent.id)
            )
        )
        children = _order_rows(
            session,
            list(session.execute(base.where(Order.parent_id == order_id).order_by(Order.id))),
        )
        refills = _requests(session, Refill, account_id, Refill.order_id == order_id)
        cancels = _requests(session, Cancel, account_id, Cancel.order_id == order_id)
    # One open request per order (requests.py refuses a second): no button for it.
    order = replace(
        found[0],
        can_refill=found[0].can_refill and not any(r.status in REFILL_OPEN for r in refills),
        can_cancel=found[0].can_cancel and not any(c.status == REQUEST_PENDING for c in cancels),
    )
    return OrderDetail(order, events, refills, cancels, children)


def _requests(
    session: Session, model: type[Refill] | type[Cancel], account_id: int, *where: Any
) -> list[RequestRow]:
    query = _request_query(model).where(model.account_id == account_id, *where)
    return [_request_row(row) for row in session.execute(query.order_by(model.id.desc()))]


def _request_query(model: type[Refill] | type[Cancel]) -> Any:
    # A cancel records the kind of order it stops; a refill is of a plain order.
    kind = Cancel.type if model is Cancel else Order.kind
    return select(
        model.id, model.order_id, model.status, kind, model.created_at, model.updated_at
    ).join(Order, Order.id == model.order_id)


def _request_row(row: Any) -> RequestRow:
    return RequestRow(
        id=row[0],
        order_id=row[1],
        status=row[2],
        type=row[3],
        created_at=as_utc(row[4]),
        updated_at=as_utc(row[5]),
    )


def list_account_requests(
    db: Database,
    *,
    kind: str,
    account_id: int,
    before: int | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    """The account's refill (`kind` "refill") or cancel ("cancel") requests,
    newest first, keyset-paged like the orders."""
    model: type[Refill] | type[Cancel] = Refill if kind == "refill" else Cancel
    query = _request_query(model).where(model.account_id == account_id)
    with db.read() as session:
        rows, older, newer = _keyset(session, query, model.id, before, after, limit)
    return Page([_request_row(row) for row in rows], older, newer)


def average_completion(
    db: Database, *, service_id: int, sample: int = COMPLETION_SAMPLE
) -> timedelta | None:
    """How long the panel's last `sample` completed orders of the service took,
    from placing to completion, on average; None without any."""
    query = (
        select(Order.created_at, Order.completed_at)
        .where(
            Order.service_id == service_id,
            Order.status == COMPLETED,
            Order.completed_at.is_not(None),
        )
        .order_by(Order.id.desc())
        .limit(sample)
    )
    with db.read() as session:
        spans = [as_utc(done) - as_utc(made) for made, done in session.execute(query) if done]
    if not spans:
        return None
    return sum(spans, timedelta()) / len(spans)
