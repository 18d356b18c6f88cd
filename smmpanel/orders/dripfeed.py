"""Provider-backed drip-feed: each run is a child order, forwarded at its time.

A drip-feed order on a service with upstream sources is a *parent*
(``forward_state="parent"``, see ``fulfilment.plan_fulfilment``).  It was
charged quantity x runs at placement and is never sent upstream itself:

- the ``dripfeed_runs`` job creates each run when ``next_run_at`` passes: a
  plain order (``parent_id``, ``run_number``, charge 0; made by
  ``creation.create_order`` like every order) queued for forwarding
  in the same transaction, and moves ``next_run_at`` on by ``interval``
  minutes (None after the last run);
- after any run changes, ``refresh_parent`` recomputes the parent from its
  runs: remains = what the runs still owe + the runs not yet made; once no
  run is left to make and every run is final, the parent ends Completed,
  Partial or Canceled, and ``change_order_status`` refunds what was not
  delivered, once;
- a cancel of the parent (``stop_dripfeed``) makes no more runs: the runs
  never made count as undelivered, and the parent ends when its running runs
  do.

The runs made so far are the parent's children: counting them under the
parent's row lock is what numbers the next run, so two workers (or a job run
twice) never make the same run twice.  Manual drip-feed orders (no provider)
have no ``forward_state`` and are left to the owner.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from smmpanel.db import Database
from smmpanel.orders import fulfilment
from smmpanel.orders.creation import create_order
from smmpanel.orders.lifecycle import change_order_status, lock_order
from smmpanel.orders.models import (
    ACTIVE_STATUSES,
    CANCELED,
    COMPLETED,
    FINAL_STATUSES,
    IN_PROGRESS,
    KIND_DRIPFEED,
    KIND_ORDER,
    PARTIAL,
    REQUEST_COMPLETED,
    REQUEST_PENDING,
    REQUEST_REJECTED,
    Cancel,
    ForwardState,
    Order,
)
from smmpanel.timeutil import as_utc, utcnow

log = logging.getLogger("smmpanel.dripfeed")

ACTOR = "dripfeed"


def dripfeed_runs(db: Database, payload: dict[str, Any]) -> None:
    """Job handler: make every due run, and end parents whose runs are all done.

    One transaction per parent; safe to run twice or on several workers at once.
    """
    made = 0
    for parent_id in due_parents(db, utcnow()):
        try:
            with db.write() as session:
                parent = lock_order(session, parent_id)
                made += advance_parent(session, parent, now=utcnow())
        except Exception:
            # One broken parent must not hold up the others; it is tried again
            # on the next pass.
            log.exception("drip-feed order %s: run not made", parent_id)
    if made:
        log.info("drip-feed: %d runs made", made)


def due_parents(db: Database, now: datetime) -> list[int]:
    """Active parents with a run due, or with no run left to make and none running
    (a run can end without a status sync, e.g. rejected by every provider)."""
    child = aliased(Order)
    running = exists().where(child.parent_id == Order.id, child.status.in_(ACTIVE_STATUSES))
    query = (
        select(Order.id)
        .where(
            Order.forward_state == ForwardState.PARENT,
            Order.status.in_(ACTIVE_STATUSES),
            or_(Order.next_run_at <= now, and_(Order.next_run_at.is_(None), ~running)),
        )
        .order_by(Order.id)
    )
    with db.read() as session:
        return list(session.scalars(query))


def advance_parent(session: Session, parent: Order, *, now: datetime) -> int:
    """Make the parent's due run, if any, then refresh it (caller holds its lock).
    Returns how many runs were made (0 or 1)."""
    if parent.forward_state != ForwardState.PARENT or parent.status not in ACTIVE_STATUSES:
        return 0
    made = 0
    if parent.next_run_at is not None and as_utc(parent.next_run_at) <= now:
        made = int(_make_run(session, parent, now) is not None)
    refresh_parent(session, parent, actor=ACTOR)
    return made


def _make_run(session: Session, parent: Order, now: datetime) -> Order | None:
    runs = parent.runs or 1
    made = len(_runs_of(session, parent.id))
    if made >= runs:  # every run exists already (a twin job was first)
        parent.next_run_at = None
        return None
    number = made + 1
    run_id = create_order(
        session,
        account_id=parent.account_id,
        service_id=parent.service_id,
        kind=KIND_ORDER,
        link=parent.link,
        quantity=parent.quantity,
        rate=parent.rate,
        charge=0,  # the parent paid for every run
        currency=parent.currency,
        params=dict(parent.params or {}),
        parent_id=parent.id,
        run_number=number,
        actor=ACTOR,
        note=f"run {number} of {runs} of drip-feed order {parent.id}",
        now=now,
    ).order_id
    run = session.get_one(Order, run_id)
    fulfilment.queue_forward(session, run, actor=ACTOR)
    parent.next_run_at = _next_run_at(parent, now) if number < runs else None
    parent.updated_at = now
    return run


def _next_run_at(parent: Order, now: datetime) -> datetime:
    """`interval` minutes after this run's planned time; after a pause of the
    worker, `interval` minutes from now (runs stay apart, never in a burst)."""
    step = timedelta(minutes=parent.interval or 0)
    planned = as_utc(parent.next_run_at) + step if parent.next_run_at else now + step
    return planned if planned > now else now + step


def _runs_of(session: Session, parent_id: int) -> list[Order]:
    return list(
        session.scalars(
            select(Order).where(Order.parent_id == parent_id).order_by(Order.run_number, Order.id)
        )
    )


def _undelivered(run: Order) -> int:
    # A canceled run delivered nothing the customer pays for (the upstream
    # refunded it whole); otherwise what it still owes.
    return run.quantity if run.status == CANCELED else run.remains


def refresh_parent(session: Session, parent: Order, *, actor: str) -> bool:
    """Recompute a drip-feed parent from its runs (caller holds its lock).

    remains = the runs' remains + runs not yet made x quantity; start_count =
    the first run's.  When no run is left to make and every run is final, the
    parent ends: Completed (all delivered), Canceled (nothing delivered) or
    Partial, refunding what was not delivered.  Returns True when it changed.
    """
    if parent.status not in ACTIVE_STATUSES:
        return False
    runs = _runs_of(session, parent.id)
    not_made = max(0, (parent.runs or 1) - len(runs))
    remains = sum(_undelivered(run) for run in runs) + not_made * parent.quantity
    remains = min(remains, parent.total_quantity)
    start_count = runs[0].start_count if runs and runs[0].start_count is not None else None
    if parent.next_run_at is None and all(run.status in FINAL_STATUSES for run in runs):
        if remains == 0:
            status = COMPLETED
        elif remains >= parent.total_quantity:
            status = CANCELED
        else:
            status = PARTIAL
        note = f"{len(runs)} of {parent.runs} runs made; {remains} not delivered"
    else:
        status = IN_PROGRESS if runs else parent.status
        note = f"{len(runs)} of {parent.runs} runs made"
    changed = change_order_status(
        session,
        parent,
        status=status,
        remains=remains,
        start_count=start_count,
        actor=actor,
        note=note,
    )
    if parent.status in FINAL_STATUSES:
        _close_pending_cancel(session, parent)
    return changed


def refresh_parent_of(session: Session, run: Order, *, actor: str) -> bool:
    """After a run changed: refresh its drip-feed parent (locking it)."""
    if run.parent_id is None:
        return False
    found = session.execute(
        select(Order.forward_state).where(Order.id == run.parent_id, Order.kind == KIND_DRIPFEED)
    ).first()
    if found is None or found[0] != ForwardState.PARENT:
        return False  # a subscription's post, or a manual drip-feed
    parent = lock_order(session, run.parent_id)
    return refresh_parent(session, parent, actor=actor)


def is_dripfeed_parent(order: Order) -> bool:
    return order.kind == KIND_DRIPFEED and order.forward_state == ForwardState.PARENT


def stop_dripfeed(session: Session, parent: Order, *, actor: str) -> bool:
    """Make no more runs (a cancel): the runs not made yet count as undelivered.
    The parent ends now when no run is running, otherwise when the last one
    ends.  Returns True when the parent is final afterwards."""
    if not is_dripfeed_parent(parent) or parent.status not in ACTIVE_STATUSES:
        return parent.status in FINAL_STATUSES
    parent.next_run_at = None
    refresh_parent(session, parent, actor=actor)
    return parent.status in FINAL_STATUSES


def _close_pending_cancel(session: Session, parent: Order) -> None:
    """A parent that ended closes its pending cancel: Completed when something was
    not delivered (and refunded), Rejected when every run was delivered."""
    outcome = REQUEST_COMPLETED if parent.status in (CANCELED, PARTIAL) else REQUEST_REJECTED
    for cancel in session.scalars(
        select(Cancel).where(Cancel.order_id == parent.id, Cancel.status == REQUEST_PENDING)
    ):
        cancel.status, cancel.open_order_id, cancel.updated_at = outcome, None, utcnow()
