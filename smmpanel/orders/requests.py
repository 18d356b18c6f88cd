"""Refill and cancel requests: created by customers, resolved by the owner
(or, for provider-backed orders, by the upstream's answer)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import record_audit, subject
from smmpanel.catalog.models import Service
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.jobs.kinds import JobKind
from smmpanel.jobs.queue import enqueue
from smmpanel.orders import dripfeed
from smmpanel.orders.errors import (
    CancelAlreadyRequested,
    CancelDisabled,
    CancelNotFound,
    InvalidStatusChange,
    NotEligibleForCancel,
    NotEligibleForRefill,
    RefillAlreadyRequested,
    RefillDisabled,
    RefillNotFound,
)
from smmpanel.orders.lifecycle import change_order_status, lock_order
from smmpanel.orders.models import (
    ACTIVE_STATUSES,
    CANCEL_STATUSES,
    CANCELED,
    COMPLETED,
    KIND_ORDER,
    PARTIAL,
    REFILL_OPEN,
    REFILL_STATUSES,
    REQUEST_COMPLETED,
    REQUEST_PENDING,
    REQUEST_REJECTED,
    Cancel,
    ForwardState,
    Order,
    Refill,
)
from smmpanel.panel.settings import get_int
from smmpanel.timeutil import as_utc, utcnow

REFILL_SENT = "Refill request was sent earlier"
CANCEL_SENT = "Cancellation request was sent earlier"


def refill_refusal(
    *, service_refill: bool, status: str, completed_at: datetime | None, days: int, now: datetime
) -> DomainError | None:
    """Why a refill of the order is refused, or None when it may be requested:
    a refillable service, a completed order, within its refill window.  The one
    rule, for `request_refill` and for the pages' refill buttons."""
    if not service_refill:
        return RefillDisabled("Refill is disabled for this service")
    if status != COMPLETED or completed_at is None:
        return NotEligibleForRefill("Order not eligible for refill")
    if now > as_utc(completed_at) + timedelta(days=days):
        return NotEligibleForRefill("Order not eligible for refill")
    return None


def cancel_refusal(*, service_cancel: bool, kind: str, status: str) -> DomainError | None:
    """Why a cancel of the order is refused, or None: an active order, and for a
    plain order a service that allows cancels (drip-feeds and subscriptions can
    always stop).  The one rule, for `request_cancel` and the cancel buttons."""
    if kind == KIND_ORDER and not service_cancel:
        return CancelDisabled("Cancel is disabled for this service")
    if status not in ACTIVE_STATUSES:
        return NotEligibleForCancel("Order not eligible for cancel")
    return None


def request_refill(db: Database, *, account_id: int, order_id: int) -> int:
    """Open a refill request for a completed order within its refill window."""
    with db.write() as session:
        order = lock_order(session, order_id, account_id=account_id)
        service = _service(session, order)
        refused = refill_refusal(
            service_refill=service.refill,
            status=order.status,
            completed_at=order.completed_at,
            days=service.refill_days or get_int(session, "default_refill_days"),
            now=utcnow(),
        )
        if refused is not None:
            raise refused
        refill = Refill(order_id=order.id, account_id=account_id, open_order_id=order.id)
        _insert_once(session, refill, RefillAlreadyRequested(REFILL_SENT))
        if order.provider_id is not None:
            queue_request_forward(session, refill)
        return refill.id


def resolve_refill(
    db: Database, *, refill_id: int, status: str, actor: Actor = Actor.system()
) -> None:
    if status not in REFILL_STATUSES:
        raise InvalidStatusChange(f"a refill status is one of {', '.join(REFILL_STATUSES)}")
    with db.write() as session:
        refill = session.get(Refill, refill_id, with_for_update=True)
        if refill is None:
            raise RefillNotFound("Refill not found")
        if refill.status not in REFILL_OPEN and status != refill.status:
            raise InvalidStatusChange(f"refill {refill_id} is {refill.status} already")
        record_audit(
            session,
            actor=actor,
            action=AuditAction.REFILL_RESOLVED_BY_HAND,
            subject=subject("refill", refill_id),
            before={"status": refill.status, "order": refill.order_id},
            after={"status": status},
        )
        refill.status = status
        refill.open_order_id = refill.order_id if status in REFILL_OPEN else None
        refill.updated_at = utcnow()


def request_cancel(db: Database, *, account_id: int, order_id: int) -> tuple[int, str]:
    """Open a cancel request; returns (cancel id, order kind).  Drip-feed runs
    and subscriptions can always be stopped; a plain order needs a service that
    allows cancels."""
    with db.write() as session:
        order = lock_order(session, order_id, account_id=account_id)
        service_cancel = order.kind != KIND_ORDER or _service(session, order).cancel
        refused = cancel_refusal(
            service_cancel=service_cancel, kind=order.kind, status=order.status
        )
        if refused is not None:
            raise refused
        cancel = Cancel(
            order_id=order.id, account_id=account_id, type=order.kind, open_order_id=order.id
        )
        _insert_once(session, cancel, CancelAlreadyRequested(CANCEL_SENT))
        if order.forward_state in (ForwardState.QUEUED, ForwardState.FAILED):
            # Not sent upstream (yet, or its forwarding failed): cancel here and
            # now; a forward job will find the order final and do nothing.
            change_order_status(session, order, status=CANCELED, actor="cancel request")
            cancel.status, cancel.open_order_id = REQUEST_COMPLETED, None
        elif dripfeed.is_dripfeed_parent(order):
            # Provider-backed drip-feed: no more runs; the parent ends (and closes
            # this request) now, or when its running runs end.
            dripfeed.stop_dripfeed(session, order, actor="cancel request")
        elif order.provider_id is not None:
            queue_request_forward(session, cancel)
        return cancel.id, order.kind


def resolve_cancel(
    db: Database, *, cancel_id: int, status: str, actor: Actor = Actor.system()
) -> None:
    """Completed cancels the order and refunds it (once); Rejected just closes."""
    if status not in CANCEL_STATUSES:
        raise InvalidStatusChange(f"a cancel status is one of {', '.join(CANCEL_STATUSES)}")
    with db.write() as session:
        found = session.get(Cancel, cancel_id)
        if found is None:
            raise CancelNotFound("Cancel not found")
        # Locks are taken order first, then its requests, on every path (status
        # sync and the owner's update_order do the same): the other way round
        # deadlocked against them on PostgreSQL.
        order = lock_order(session, found.order_id)
        cancel = session.get(Cancel, cancel_id, with_for_update=True, populate_existing=True)
        assert cancel is not None
        if cancel.status != REQUEST_PENDING and status != cancel.status:
            raise InvalidStatusChange(f"cancel {cancel_id} is {cancel.status} already")
        closing = cancel.status == REQUEST_PENDING and status != REQUEST_PENDING
        if closing and dripfeed.is_dripfeed_parent(order):
            # Its runs are stopped already; canceling it whole would refund
            # the runs delivered.  The parent closes this request when it ends.
            raise InvalidStatusChange(
                f"cancel {cancel_id} closes by itself when the drip-feed's running "
                "runs end; set their statuses instead"
            )
        before = {"status": cancel.status, "order": order.id, "order_status": order.status}
        if status == REQUEST_COMPLETED and cancel.status == REQUEST_PENDING:
            # The status history names the owner as before; the trail says which person.
            change_order_status(
                session, order, status=CANCELED, actor="owner", note=f"cancel request {cancel.id}"
            )
        record_audit(
            session,
            actor=actor,
            action=AuditAction.CANCEL_RESOLVED_BY_HAND,
            subject=subject("cancel", cancel_id),
            before=before,
            after={"status": status, "order_status": order.status},
        )
        cancel.status = status
        cancel.open_order_id = cancel.order_id if status == REQUEST_PENDING else None
        cancel.updated_at = utcnow()


def close_pending_cancels(session: Session, orders: Sequence[Order]) -> None:
    """Orders that reached a final status close their pending cancel requests:
    Completed when the upstream canceled (all or part), Rejected when it delivered."""
    close_pending_cancels_of(
        session, {o.id: o.status for o in orders if o.status not in ACTIVE_STATUSES}
    )


def close_pending_cancels_of(session: Session, final: Mapping[int, str]) -> None:
    """The same for orders known by id and final status (changed in bulk)."""
    if not final:
        return
    for cancel in session.scalars(
        select(Cancel).where(Cancel.order_id.in_(list(final)), Cancel.status == REQUEST_PENDING)
    ):
        status = final[cancel.order_id]
        outcome = REQUEST_COMPLETED if status in (CANCELED, PARTIAL) else REQUEST_REJECTED
        cancel.status, cancel.open_order_id, cancel.updated_at = outcome, None, utcnow()


def queue_request_forward(session: Session, request: Refill | Cancel) -> None:
    """Have the worker forward this refill or cancel to the order's provider."""
    kind = "refill" if isinstance(request, Refill) else "cancel"
    job = JobKind.FORWARD_REFILL if isinstance(request, Refill) else JobKind.FORWARD_CANCEL
    request.forward_state = ForwardState.QUEUED
    enqueue(session, job, {f"{kind}_id": request.id}, dedupe_key=f"{kind}:{request.id}")


def _service(session: Session, order: Order) -> Service:
    service = session.get(Service, order.service_id)
    assert service is not None  # a foreign key guarantees it
    return service


def _insert_once(session: Session, row: Refill | Cancel, duplicate: Exception) -> None:
    """Insert a request whose `open_order_id` is unique: a second open request
    for the same order fails here, even under concurrency."""
    model = type(row)
    taken = session.execute(select(model.id).where(model.open_order_id == row.open_order_id))
    if taken.first() is not None:
        raise duplicate
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise duplicate from None
