"""What the dashboard asks the owner to look at: providers' balances and
health, open owner alerts, and counts of orders and deposits waiting for a
person (reconciliation, failed forwards, stuck orders, held deposits).

Read-only queries in the admin edge for the same reason as ``dashboard.py``:
they read providers, orders, payments and the panel's alerts together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session

from smmpanel.orders.forwarding_states import ForwardState
from smmpanel.orders.models import (
    ACTIVE_STATUSES,
    REFILL_OPEN,
    REQUEST_PENDING,
    Cancel,
    Order,
    Refill,
)
from smmpanel.panel.models import Alert
from smmpanel.payments.models import Deposit
from smmpanel.providers.models import PROVIDER_PAUSED, Provider, ProviderOrderRecord

# An active order untouched this long is "stuck" (a constant, not a setting: the
# same day the status sync uses to flag forwarded orders stale).
STUCK_AFTER = timedelta(hours=24)
# Forwarding calls counted as a provider's recent errors: the last day's.
ERRORS_WITHIN = timedelta(hours=24)
# Open alerts listed on the page (the rest are counted).
ALERTS_SHOWN = 20
# A forwarding call's outcome when the provider took the order; the others
# (refused with a reason, unreachable, unknown) are errors.
ACCEPTED = "accepted"
HELD = "held"


@dataclass(frozen=True)
class ProviderHealth:
    name: str
    paused: bool
    paused_reason: str
    balance: int | None
    currency: str | None
    balance_checked_at: datetime | None
    errors: int  # forwarding calls that failed within ERRORS_WITHIN
    last_error: str
    open_orders: int  # active orders it has accepted


@dataclass(frozen=True)
class Waiting:
    """Counts of what waits for a person, each with the page that handles it."""

    reconcile: int
    failed: int
    stuck: int
    held_deposits: int
    refills: int
    cancels: int


@dataclass(frozen=True)
class OpenAlert:
    kind: str
    subject: str
    message: str
    created_at: datetime


def provider_health(session: Session, *, now: datetime) -> list[ProviderHealth]:
    since = now - ERRORS_WITHIN
    failed_call = (ProviderOrderRecord.outcome != ACCEPTED) & (
        ProviderOrderRecord.created_at >= since
    )
    errors = dict(
        session.execute(
            select(ProviderOrderRecord.provider_id, func.count(ProviderOrderRecord.id))
            .where(failed_call)
            .group_by(ProviderOrderRecord.provider_id)
        ).all()
    )
    last_error_id = (
        select(func.max(ProviderOrderRecord.id).label("id"))
        .where(failed_call)
        .group_by(ProviderOrderRecord.provider_id)
        .subquery()
    )
    last_errors = dict(
        session.execute(
            select(ProviderOrderRecord.provider_id, ProviderOrderRecord.detail).join(
                last_error_id, last_error_id.c.id == ProviderOrderRecord.id
            )
        ).all()
    )
    open_orders = dict(
        session.execute(
            select(Order.provider_id, func.count(Order.id))
            .where(Order.forward_state == ForwardState.ACCEPTED, Order.status.in_(ACTIVE_STATUSES))
            .group_by(Order.provider_id)
        ).all()
    )
    return [
        ProviderHealth(
            name=p.name,
            paused=p.status == PROVIDER_PAUSED,
            paused_reason=p.paused_reason,
            balance=p.balance,
            currency=p.currency,
            balance_checked_at=p.balance_checked_at,
            errors=int(errors.get(p.id, 0)),
            last_error=last_errors.get(p.id, "")[:300],
            open_orders=int(open_orders.get(p.id, 0)),
        )
        for p in session.scalars(select(Provider).order_by(Provider.name))
    ]


def waiting(session: Session, *, now: datetime) -> Waiting:
    """The active orders' counts in one pass over them, then the requests' and
    deposits' (small tables, or indexed by state)."""

    def count_of(where: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.coalesce(func.sum(case((where, 1), else_=0)), 0)

    reconcile, failed, stuck = session.execute(
        select(
            count_of(Order.forward_state == ForwardState.RECONCILE),
            count_of(Order.forward_state == ForwardState.FAILED),
            count_of(Order.updated_at < now - STUCK_AFTER),
        ).where(Order.status.in_(ACTIVE_STATUSES))
    ).one()

    def count(query: Select[int]) -> int:
        return int(session.scalar(query) or 0)

    return Waiting(
        reconcile=int(reconcile),
        failed=int(failed),
        stuck=int(stuck),
        held_deposits=count(select(func.count(Deposit.id)).where(Deposit.state == HELD)),
        refills=count(select(func.count(Refill.id)).where(Refill.status.in_(REFILL_OPEN))),
        cancels=count(select(func.count(Cancel.id)).where(Cancel.status == REQUEST_PENDING)),
    )


def open_alerts(session: Session) -> tuple[list[OpenAlert], int]:
    """The newest open alerts (at most ALERTS_SHOWN) and how many are open."""
    unresolved = Alert.resolved_at.is_(None)
    total = int(session.scalar(select(func.count(Alert.id)).where(unresolved)) or 0)
    rows = session.execute(
        select(Alert.kind, Alert.subject, Alert.message, Alert.created_at)
        .where(unresolved)
        .order_by(Alert.id.desc())
        .limit(ALERTS_SHOWN)
    )
    return [OpenAlert(*row) for row in rows], total
