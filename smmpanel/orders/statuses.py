"""The statuses of an account's orders, as the API's `status` answers them.

Lean on purpose: resellers ask for 100 orders at a time, every minute, for
every customer of theirs.  Only the columns the answer shows, from the orders
table alone, as plain tuples (OrderView's 17 fields and the join for the
username cost more than the read itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from smmpanel.db import Database
from smmpanel.orders.models import KIND_SUBSCRIPTION, Order
from smmpanel.orders.queries import post_amounts
from smmpanel.timeutil import as_utc, utcnow


class OrderStatus(NamedTuple):
    id: int
    kind: str
    charge: int  # what the order costs the account now (minor units): charged - refunded
    currency: str
    status: str
    start_count: int | None
    remains: int


def statuses_in(
    reader: Session | Connection, order_ids: Sequence[int], *, account_id: int
) -> dict[int, OrderStatus]:
    """The account's orders among `order_ids` (others' are absent, exactly as if
    they did not exist), in the caller's transaction.  A subscription costs what
    its posts cost (orders.queries.OrderView)."""
    if not order_ids:
        return {}
    rows = reader.execute(
        STATUSES_STATEMENT, {"ids": list(set(order_ids)), "account_id": account_id}
    )
    return _costed(reader, {row[0]: OrderStatus(*row) for row in rows})


def statuses_lagging(
    db: Database, order_ids: Sequence[int], *, account_id: int
) -> dict[int, OrderStatus]:
    """`statuses_in` on a read replica, but for the orders the replica lacks or
    that were placed within `db.fresh_seconds`: those are read again on the
    primary, so an order asked for right after it was placed is never missing,
    however far the replica lags."""
    if not order_ids:
        return {}
    fresh_since = utcnow() - timedelta(seconds=db.fresh_seconds)
    with db.read_core_lagging() as connection:
        rows = connection.execute(
            _STATUSES_AGED, {"ids": list(set(order_ids)), "account_id": account_id}
        )
        aged = {row[0]: OrderStatus(*row[:7]) for row in rows if as_utc(row[7]) <= fresh_since}
        found = _costed(connection, aged)
    again = [i for i in set(order_ids) if i not in found]
    if again:
        with db.read_core() as connection:
            found.update(statuses_in(connection, again, account_id=account_id))
    return found


def costed_by_posts(found: dict[int, OrderStatus]) -> bool:
    """Whether a subscription is among these orders: its charge is the sum of
    its posts, which `statuses_in` adds and a reader of STATUSES_STATEMENT
    alone does not (the API's loop reads leave such a call to a thread)."""
    return any(view.kind == KIND_SUBSCRIPTION for view in found.values())


def _costed(reader: Session | Connection, found: dict[int, OrderStatus]) -> dict[int, OrderStatus]:
    """`found` with its subscriptions costed by their posts (one query, none
    without a subscription)."""
    subscriptions = [s.id for s in found.values() if s.kind == KIND_SUBSCRIPTION]
    sums = post_amounts(reader, subscriptions)
    for order_id in subscriptions:
        charged, refunded = sums.get(order_id, (0, 0))
        found[order_id] = found[order_id]._replace(charge=charged - refunded)
    return found


# Public for a reader that runs it without SQLAlchemy (the API's reads on
# SQLite's event loop: api_v2/loop_reads.py); parameters `ids` (a list) and
# `account_id`.
STATUSES_STATEMENT = select(
    Order.id,
    Order.kind,
    Order.charge - Order.refunded,
    Order.currency,
    Order.status,
    Order.start_count,
    Order.remains,
).where(Order.id.in_(bindparam("ids", expanding=True)), Order.account_id == bindparam("account_id"))
# With the time each was placed, for `statuses_lagging`.
_STATUSES_AGED = STATUSES_STATEMENT.add_columns(Order.created_at)
