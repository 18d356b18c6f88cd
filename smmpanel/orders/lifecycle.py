"""Status changes of an order and the refunds they imply.

``change_order_status`` runs inside the caller's transaction; every path that
moves an order (the owner, a completed cancel, and later the upstream sync)
goes through it, so the refund rules live in one place:

- ``Partial`` refunds remains x rate / 1000 (proportional for packages);
- ``Canceled`` refunds the whole charge;
- neither refunds more than is still charged (``charge - refunded``: a
  subscription post may have been settled before);
- a subscription itself is never refunded: its posts carry the money;
- each refund is a ledger entry with cause ``refund:order:<id>``, which the
  ledger's unique constraint lets exist once, and ``Order.refunded`` grows by
  it in the same transaction.

``plain_change`` and ``change_order_statuses`` are the same change for many
orders at once where no money moves and nothing but the order's row and its
event are written (the upstream sync's batches): set-based statements instead
of one ORM flush per order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from smmpanel.ledger import causes
from smmpanel.ledger import models as ledger_models
from smmpanel.ledger.errors import AlreadyPosted
from smmpanel.ledger.service import post_entry
from smmpanel.money import charge_units, div_half_up
from smmpanel.orders.errors import InvalidStatusChange, OrderNotFound
from smmpanel.orders.models import (
    ACTIVE_STATUSES,
    CANCELED,
    COMPLETED,
    FINAL_STATUSES,
    KIND_SUBSCRIPTION,
    ORDER_STATUSES,
    PARTIAL,
    Order,
    OrderEvent,
)
from smmpanel.orders.order_alerts import resolve_alerts_of_orders, resolve_order_alerts
from smmpanel.orders.webhooks import OrderChange, queue_status_webhook, queue_status_webhooks
from smmpanel.timeutil import utcnow


def lock_order(session: Session, order_id: int, *, account_id: int | None = None) -> Order:
    """Load an order for change (row-locked on PostgreSQL; SQLite's BEGIN
    IMMEDIATE already serialises writers)."""
    query = select(Order).where(Order.id == order_id).with_for_update()
    if account_id is not None:
        query = query.where(Order.account_id == account_id)
    order = session.execute(query).scalar_one_or_none()
    if order is None:
        raise OrderNotFound("Incorrect order ID")
    return order


def refund_due(order: Order, status: str, remains: int) -> int:
    """What the customer gets back when the order ends in `status`."""
    still_charged = order.charge - order.refunded
    if order.kind == KIND_SUBSCRIPTION or still_charged <= 0:
        return 0
    if status == CANCELED:
        return still_charged
    if status != PARTIAL:
        return 0
    if order.package:
        due = div_half_up(order.charge * remains, order.total_quantity)
    else:
        due = charge_units(order.rate, remains)
    return min(due, still_charged)


def change_order_status(
    session: Session,
    order: Order,
    *,
    status: str | None = None,
    start_count: int | None = None,
    remains: int | None = None,
    actor: str,
    note: str = "",
) -> bool:
    """Apply a new status and/or counters; refund on Partial/Canceled.

    Returns True when anything changed.  A final status is final: an order
    that is Completed, Partial or Canceled cannot move again.
    """
    new_status = order.status if status is None else status
    if new_status not in ORDER_STATUSES:
        raise InvalidStatusChange(f"unknown status {status!r}; one of {', '.join(ORDER_STATUSES)}")
    if order.status in FINAL_STATUSES and new_status != order.status:
        raise InvalidStatusChange(f"order {order.id} is {order.status}; a final status is kept")
    new_remains = _new_remains(order, new_status, remains)
    if order.status in FINAL_STATUSES and new_remains != order.remains:
        # The refund was computed from the remains at the final change; moving
        # them afterwards would show a remains the refund does not match.
        raise InvalidStatusChange(f"order {order.id} is {order.status}; its remains are final")
    new_start = order.start_count if start_count is None else start_count
    if new_start is not None and new_start < 0:
        raise InvalidStatusChange("start count must not be negative")
    if (new_status, new_remains, new_start) == (order.status, order.remains, order.start_count):
        return False
    old_status = order.status
    now = utcnow()
    order.status, order.remains, order.start_count = new_status, new_remains, new_start
    order.updated_at = now
    if new_status in FINAL_STATUSES and old_status not in FINAL_STATUSES:
        order.completed_at = now
        order.active_link = None
        _refund(session, order, actor)
        resolve_order_alerts(session, order.id)  # nothing waits on a person any more
    session.add(
        OrderEvent(
            order_id=order.id,
            from_status=old_status,
            to_status=new_status,
            start_count=new_start,
            remains=new_remains,
            actor=actor,
            note=note[:500],
        )
    )
    queue_status_webhook(session, order)
    return True


def _new_remains(order: Order, status: str, remains: int | None) -> int:
    if remains is not None and not 0 <= remains <= order.total_quantity:
        raise InvalidStatusChange(f"remains must be between 0 and {order.total_quantity}")
    if status == COMPLETED:
        return 0
    if status == PARTIAL:
        value = order.remains if remains is None else remains
        if not 0 < value <= order.total_quantity:
            raise InvalidStatusChange(f"Partial needs remains between 1 and {order.total_quantity}")
        return value
    return order.remains if remains is None else remains


def _refund(session: Session, order: Order, actor: str) -> None:
    amount = refund_due(order, order.status, order.remains)
    if amount <= 0:
        return
    try:
        post_entry(
            session,
            account_id=order.account_id,
            kind=ledger_models.REFUND,
            amount=amount,
            actor=actor,
            cause=causes.order_refund(order.id),
            order_id=order.id,
            note=f"{order.status} order {order.id}",
        )
    except AlreadyPosted:
        # Refunded before (e.g. by a concurrent path): exactly once, by design.
        return
    order.refunded += amount


@dataclass(frozen=True)
class PlainChange:
    """A change of an active order to an active status or to Completed that
    refunds nothing: only the order's row and one event are written."""

    order_id: int
    account_id: int
    from_status: str
    status: str
    start_count: int | None
    remains: int
    cost: int  # charge - refunded: unchanged, as nothing is refunded
    currency: str


def plain_change(
    row: Any, *, status: str, start_count: int | None, remains: int | None
) -> PlainChange | None:
    """The change `change_order_status` would make to the order in `row` (its
    id, account_id, status, remains, start_count, total_quantity, kind,
    parent_id, charge, refunded and currency) when it is plain; None when it is
    not (a refund may be due, the order is final or has a parent to refresh, a
    value is refused, or nothing changes): such orders go through
    change_order_status."""
    if row.status not in ACTIVE_STATUSES or row.kind == KIND_SUBSCRIPTION:
        return None
    if row.parent_id is not None or not (status in ACTIVE_STATUSES or status == COMPLETED):
        return None  # a drip-feed run refreshes its parent; Partial/Canceled refund
    if remains is not None and not 0 <= remains <= row.total_quantity:
        return None
    if start_count is not None and start_count < 0:
        return None
    new_remains = 0 if status == COMPLETED else row.remains if remains is None else remains
    new_start = row.start_count if start_count is None else start_count
    if (status, new_remains, new_start) == (row.status, row.remains, row.start_count):
        return None
    return PlainChange(
        order_id=row.id,
        account_id=row.account_id,
        from_status=row.status,
        status=status,
        start_count=new_start,
        remains=new_remains,
        cost=row.charge - row.refunded,
        currency=row.currency,
    )


def change_order_statuses(
    session: Session,
    changes: Sequence[PlainChange],
    *,
    actor: str,
    now: datetime,
    synced_at: datetime | None = None,
) -> None:
    """Apply plain changes (inside the caller's transaction, the orders' rows
    locked by it): one UPDATE per kind of change, run over all of them, one
    INSERT of their events, one resolve of the alerts of those completed, and
    their webhooks queued together.  Like the sync's answers one by one, a
    change clears the order's `stale` flag; `synced_at` (the sync's checked-at
    stamp) is set in the same UPDATE, as on PostgreSQL each update of a row
    writes a new version of it and of its index entries."""
    if not changes:
        return
    rows = [
        dict(b_id=c.order_id, b_status=c.status, b_start=c.start_count, b_remains=c.remains)
        for c in changes
    ]
    going = [row for row, c in zip(rows, changes, strict=True) if c.status != COMPLETED]
    done = [row for row, c in zip(rows, changes, strict=True) if c.status == COMPLETED]
    statement = _PLAIN_UPDATE.values(updated_at=now)
    if synced_at is not None:
        statement = statement.values(synced_at=synced_at)
    if going:
        session.execute(statement, going)
    if done:
        session.execute(statement.values(completed_at=now, active_link=None), done)
        resolve_alerts_of_orders(session, (c.order_id for c in changes if c.status == COMPLETED))
    session.execute(
        _INSERT_EVENT,
        [
            dict(
                order_id=c.order_id,
                from_status=c.from_status,
                to_status=c.status,
                start_count=c.start_count,
                remains=c.remains,
                actor=actor,
                note="",
                created_at=now,
            )
            for c in changes
        ],
    )
    queue_status_webhooks(session, [_webhook_state(c, now) for c in changes])


def _webhook_state(change: PlainChange, now: datetime) -> OrderChange:
    return OrderChange(
        order_id=change.order_id,
        account_id=change.account_id,
        status=change.status,
        cost=change.cost,
        start_count=change.start_count,
        remains=change.remains,
        currency=change.currency,
        changed_at=now,
    )


# Core statements on the tables, run with one set of values per order
# (executemany): no ORM objects, no flush.
_ORDERS = cast(Table, Order.__table__)
_INSERT_EVENT = insert(cast(Table, OrderEvent.__table__))
_PLAIN_UPDATE = (
    update(_ORDERS)
    .where(_ORDERS.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        start_count=bindparam("b_start"),
        remains=bindparam("b_remains"),
        stale=False,
    )
)
