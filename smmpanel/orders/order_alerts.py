"""The owner alerts about one order: it could not be forwarded (``order_stuck``)
or needs reconciliation by hand (``reconcile``).  They are raised by the
providers context and resolved here, once the order no longer needs a person:
it reached a final status, or its upstream order was adopted."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from smmpanel.panel.alerts import resolve_alerts_of

STUCK_ALERT = "order_stuck"
RECONCILE_ALERT = "reconcile"


def order_alert_subject(order_id: int) -> str:
    return f"order {order_id}"


def resolve_order_alerts(session: Session, order_id: int) -> int:
    """Mark the order's open alerts dealt with; returns how many there were."""
    return resolve_alerts_of_orders(session, (order_id,))


def resolve_alerts_of_orders(session: Session, order_ids: Iterable[int]) -> int:
    """resolve_order_alerts for many orders in one statement."""
    subjects = [order_alert_subject(order_id) for order_id in order_ids]
    return resolve_alerts_of(session, kinds=(STUCK_ALERT, RECONCILE_ALERT), subjects=subjects)
