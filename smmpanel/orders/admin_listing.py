"""Every customer's orders as the owner's web admin lists them: filters (status,
service, customer, provider, forwarding state, dates), a search by order id,
upstream order id or link, and keyset pages newest first (never OFFSET: the
1,000th page of a million orders costs what the first does;
bench/bench_admin_orders.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from smmpanel.accounts.models import Account
from smmpanel.catalog.models import Service
from smmpanel.db import Database
from smmpanel.orders.listing import PAGE_SIZE, Page, _keyset
from smmpanel.orders.models import KIND_SUBSCRIPTION, ForwardState, Order
from smmpanel.orders.queries import post_amounts
from smmpanel.timeutil import as_utc

MAX_SEARCH = 200
# The forwarding filter's value for orders the owner fulfils by hand (NULL state).
MANUAL = "manual"
FORWARD_FILTERS = (MANUAL, *(state.value for state in ForwardState))
MAX_UPSTREAM_ID = 64  # the width of orders.provider_order_id


@dataclass(frozen=True)
class OrderFilter:
    """What the list is narrowed to; None (or "") is no narrowing."""

    status: str | None = None
    service_id: int | None = None
    username: str | None = None
    provider_id: int | None = None
    forward_state: str | None = None  # a ForwardState value, or MANUAL
    since: date | None = None  # placed on or after this day (UTC)
    until: date | None = None  # placed on or before this day (UTC)
    search: str = ""  # an order id, an upstream order id, or part of a link


@dataclass(frozen=True)
class AdminOrderRow:
    id: int
    created_at: datetime
    account_id: int
    username: str
    service_id: int
    service_name: str
    kind: str
    parent_id: int | None
    link: str
    total_quantity: int
    charge: int  # what it costs the account now (charged - refunded)
    currency: str
    status: str
    start_count: int | None
    remains: int
    forward_state: str | None
    provider_id: int | None
    provider_order_id: str | None


_COLUMNS = (
    Order.id,
    Order.created_at,
    Order.account_id,
    Account.username,
    Order.service_id,
    Service.name,
    Order.kind,
    Order.parent_id,
    Order.link,
    Order.total_quantity,
    Order.charge,
    Order.refunded,
    Order.currency,
    Order.status,
    Order.start_count,
    Order.remains,
    Order.forward_state,
    Order.provider_id,
    Order.provider_order_id,
)


def list_all_orders(
    db: Database,
    found: OrderFilter,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    """One page of every account's orders (drip-feed runs and subscription
    posts too: each is an order the owner may fix), newest first."""
    with db.read() as session:
        query = _filtered(session, _base(), found)
        rows, older, newer = _keyset(session, query, Order.id, before, after, limit)
        return Page(_rows(session, rows), older, newer)


def _base() -> Any:
    return (
        select(*_COLUMNS)
        .join(Account, Account.id == Order.account_id)
        .join(Service, Service.id == Order.service_id)
    )


def _filtered(session: Session, query: Select[Any], found: OrderFilter) -> Select[Any]:
    if found.username:
        # The account's id first: the filter is then on orders.account_id,
        # which its (account_id, id) index answers newest first.
        account_id = session.scalar(select(Account.id).where(Account.username == found.username))
        query = query.where(Order.account_id == (account_id or 0))
    for column, value in (
        (Order.status, found.status),
        (Order.service_id, found.service_id),
        (Order.provider_id, found.provider_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if found.forward_state == MANUAL:
        query = query.where(Order.forward_state.is_(None))
    elif found.forward_state is not None:
        query = query.where(Order.forward_state == found.forward_state)
    if found.since is not None:
        query = query.where(Order.created_at >= _midnight(found.since))
    if found.until is not None:
        query = query.where(Order.created_at < _midnight(found.until + timedelta(days=1)))
    return query.where(*_search(found.search[:MAX_SEARCH].strip()))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _search(text: str) -> list[ColumnElement[bool]]:
    """A number: the order of that id, or the order the upstream knows by it;
    any other text: the upstream order id, or a part of the link (a scan)."""
    if not text:
        return []
    # LIKE's own wildcards in the text are matched literally.
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    link = Order.link.like(pattern, escape="\\")
    if len(text) > MAX_UPSTREAM_ID:
        return [link]  # longer than any upstream order id
    upstream = Order.provider_order_id == text
    if text.isascii() and text.isdigit():
        if len(text) > 9:
            return [upstream]
        return [or_(Order.id == int(text), upstream)]
    return [or_(upstream, link)]


def _rows(session: Session, rows: list[Any]) -> list[AdminOrderRow]:
    # A subscription costs what its posts cost.
    posts = post_amounts(session, [row.id for row in rows if row.kind == KIND_SUBSCRIPTION])
    return [
        AdminOrderRow(
            id=row.id,
            created_at=as_utc(row.created_at),
            account_id=row.account_id,
            username=row.username,
            service_id=row.service_id,
            service_name=row.name,
            kind=row.kind,
            parent_id=row.parent_id,
            link=row.link,
            total_quantity=row.total_quantity,
            charge=_cost(row, posts),
            currency=row.currency,
            status=row.status,
            start_count=row.start_count,
            remains=row.remains,
            forward_state=row.forward_state,
            provider_id=row.provider_id,
            provider_order_id=row.provider_order_id,
        )
        for row in rows
    ]


def _cost(row: Any, posts: dict[int, tuple[int, int]]) -> int:
    if row.kind == KIND_SUBSCRIPTION:
        charged, refunded = posts.get(row.id, (0, 0))
        return charged - refunded
    return int(row.charge - row.refunded)


def admin_order_row(db: Database, order_id: int) -> AdminOrderRow | None:
    """One order as the admin's list shows it (the head of its page)."""
    with db.read() as session:
        rows = list(session.execute(_base().where(Order.id == order_id)))
        return _rows(session, rows)[0] if rows else None
