"""One order's whole history for the owner's web admin: every status change and
forwarding move, the ledger entries, refills, cancels, webhook deliveries and
the audit rows about it.  (The upstream calls are the providers context's:
`smmpanel.providers.order_calls`.)"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smmpanel.audit.models import AuditEntry
from smmpanel.audit.service import subject
from smmpanel.db import Database
from smmpanel.jobs.kinds import JobKind
from smmpanel.jobs.models import Job
from smmpanel.ledger.models import LedgerEntry
from smmpanel.orders.models import Cancel, Order, OrderEvent, Refill
from smmpanel.timeutil import as_utc

# Enough for any real order (a drip-feed of many runs, a long subscription);
# the page says when a list was cut.
MAX_ROWS = 500


@dataclass(frozen=True)
class EventRow:
    at: datetime
    from_status: str | None
    to_status: str
    from_forward: str | None
    to_forward: str | None  # set: a move of the forwarding state, not of the status
    start_count: int | None
    remains: int | None
    actor: str
    note: str


@dataclass(frozen=True)
class EntryRow:
    id: int
    at: datetime
    kind: str
    amount: int
    balance_after: int
    actor: str
    note: str


@dataclass(frozen=True)
class RequestRow:
    id: int
    what: str  # "refill" or "cancel"
    status: str
    forward_state: str | None
    provider_request_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DeliveryRow:
    """A webhook delivery of one of the order's status changes (a job)."""

    event_id: str
    status: str  # the job's: queued, running, done, failed
    attempts: int
    last_error: str
    created_at: datetime


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    action: str
    details: dict[str, Any]


@dataclass(frozen=True)
class OrderHistory:
    events: list[EventRow]
    entries: list[EntryRow]
    requests: list[RequestRow]
    deliveries: list[DeliveryRow]
    audit: list[AuditRow]
    children: list[int]  # drip-feed runs or subscription posts, oldest first
    params: dict[str, Any]
    forward_error: str
    waiting_since: datetime | None


def order_history(db: Database, order_id: int) -> OrderHistory | None:
    """None when there is no such order."""
    with db.read() as session:
        order = session.get(Order, order_id)
        if order is None:
            return None
        return OrderHistory(
            events=_events(session, order_id),
            entries=_entries(session, order_id),
            requests=_requests(session, order_id),
            deliveries=_deliveries(session, order),
            audit=_audit(session, order_id),
            children=list(
                session.scalars(
                    select(Order.id)
                    .where(Order.parent_id == order_id)
                    .order_by(Order.id)
                    .limit(MAX_ROWS)
                )
            ),
            params=dict(order.params or {}),
            forward_error=order.forward_error,
            waiting_since=as_utc(order.waiting_since) if order.waiting_since else None,
        )


def _events(session: Session, order_id: int) -> list[EventRow]:
    query = select(OrderEvent).where(OrderEvent.order_id == order_id)
    return [
        EventRow(
            at=as_utc(e.created_at),
            from_status=e.from_status,
            to_status=e.to_status,
            from_forward=e.from_forward,
            to_forward=e.to_forward,
            start_count=e.start_count,
            remains=e.remains,
            actor=e.actor,
            note=e.note,
        )
        for e in session.scalars(query.order_by(OrderEvent.id).limit(MAX_ROWS))
    ]


def _entries(session: Session, order_id: int) -> list[EntryRow]:
    query = select(LedgerEntry).where(LedgerEntry.order_id == order_id)
    return [
        EntryRow(
            id=e.id,
            at=as_utc(e.created_at),
            kind=e.kind,
            amount=e.amount,
            balance_after=e.balance_after,
            actor=e.actor,
            note=e.note,
        )
        for e in session.scalars(query.order_by(LedgerEntry.id).limit(MAX_ROWS))
    ]


def _requests(session: Session, order_id: int) -> list[RequestRow]:
    found: list[RequestRow] = []
    kinds: tuple[tuple[str, type[Refill] | type[Cancel]], ...] = (
        ("refill", Refill),
        ("cancel", Cancel),
    )
    for what, model in kinds:
        query = select(model).where(model.order_id == order_id).order_by(model.id)
        rows: list[Refill | Cancel] = list(session.scalars(query.limit(MAX_ROWS)))
        found += [
            RequestRow(
                id=r.id,
                what=what,
                status=r.status,
                forward_state=r.forward_state,
                provider_request_id=r.provider_request_id,
                created_at=as_utc(r.created_at),
                updated_at=as_utc(r.updated_at),
            )
            for r in rows
        ]
    return sorted(found, key=lambda row: row.created_at)


def _deliveries(session: Session, order: Order) -> list[DeliveryRow]:
    """The webhook jobs of the order's status changes: their event ids are
    "order-<id>-<n>" (orders/webhooks.py), and none can predate the order.
    The jobs table has no index on the payload, so this reads the account's
    webhook jobs since the order was placed."""
    event = Job.payload["event_id"].as_string()
    query = (
        select(Job)
        .where(
            Job.kind == JobKind.WEBHOOK,
            Job.created_at >= order.created_at,
            Job.payload["account_id"].as_integer() == order.account_id,
            event.like(f"order-{order.id}-%"),
        )
        .order_by(Job.id)
        .limit(MAX_ROWS)
    )
    return [
        DeliveryRow(
            event_id=str(job.payload.get("event_id", "")),
            status=job.status,
            attempts=job.attempts,
            last_error=job.last_error,
            created_at=as_utc(job.created_at),
        )
        for job in session.scalars(query)
    ]


def _audit(session: Session, order_id: int) -> list[AuditRow]:
    query = select(AuditEntry).where(AuditEntry.subject == subject("order", order_id))
    return [
        AuditRow(at=as_utc(a.at), actor=a.actor, action=a.action, details=_details(a.details))
        for a in session.scalars(query.order_by(AuditEntry.id).limit(MAX_ROWS))
    ]


def _details(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
