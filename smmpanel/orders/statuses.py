"""The statuses of an account's orders, as the API's `status` answers them.

Lean on purpose: resellers ask for 100 orders at a time, every minute, for
every customer of theirs.  Only the columns the answer shows, from the orders
table alone, as plain tuples (OrderView's 17 fields and the join for the
username cost more than the read itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from smmpanel.orders.models import KIND_SUBSCRIPTION, Order
from smmpanel.orders.queries import post_amounts


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
    rows = reader.execute(_STATUSES, {"ids": list(set(order_ids)), "account_id": account_id})
    found = {row[0]: OrderStatus(*row) for row in rows}
    subscriptions = [s.id for s in found.values() if s.kind == KIND_SUBSCRIPTION]
    sums = post_amounts(reader, subscriptions)
    for order_id in subscriptions:
        charged, refunded = sums.get(order_id, (0, 0))
        found[order_id] = found[order_id]._replace(charge=charged - refunded)
    return found


_STATUSES = select(
    Order.id,
    Order.kind,
    Order.charge - Order.refunded,
    Order.currency,
    Order.status,
    Order.start_count,
    Order.remains,
).where(Order.id.in_(bindparam("ids", expanding=True)), Order.account_id == bindparam("account_id"))
