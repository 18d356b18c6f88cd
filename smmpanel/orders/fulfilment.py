"""Who fulfils an order: the owner by hand, or upstream providers via the worker.

Called inside the transaction that creates the order (or a drip-feed run), so
the forwarding job exists exactly when the order does (an outbox): a crash
after commit leaves a queued job, never a lost order; a rollback leaves
neither, never a ghost order upstream.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from smmpanel.catalog.models import ServiceSource
from smmpanel.jobs.queue import enqueue
from smmpanel.orders.models import KIND_DRIPFEED, Order

FORWARD_JOB = "forward_order"
DRIPFEED_JOB = "dripfeed_runs"

# Forwarding states of an order (Order.forward_state).
QUEUED = "queued"  # a forward_order job will send it
SENDING = "sending"  # a worker is calling the upstream `add`; outcome unknown until recorded
ACCEPTED = "accepted"  # the upstream order id is known
RECONCILE = "reconcile"  # the outcome of `add` is unknown: look it up before anything else
REJECTED = "rejected"  # every provider refused it: canceled and refunded
FAILED = "failed"  # its forward job gave up on an error: the owner resends or cancels it
PARENT = "parent"  # a drip-feed parent: its runs are forwarded, not itself


def is_provider_backed(session: Session, service_id: int) -> bool:
    return session.execute(_HAS_SOURCE, {"service_id": service_id}).first() is not None


_HAS_SOURCE = (
    select(ServiceSource.id).where(ServiceSource.service_id == bindparam("service_id")).limit(1)
)


def plan_fulfilment(session: Session, *, order_id: int, service_id: int) -> None:
    """Queue a new order for forwarding when its service has upstream sources."""
    if not is_provider_backed(session, service_id):
        return
    order = session.get(Order, order_id)
    assert order is not None  # inserted in this transaction
    if order.kind == KIND_DRIPFEED:
        order.forward_state = PARENT
        order.next_run_at = order.created_at
        # The first run goes now, not at the next tick of the drip-feed schedule
        # (same dedupe key: never two such jobs queued at once).
        enqueue(session, DRIPFEED_JOB, {}, dedupe_key="schedule:dripfeed")
        return
    queue_forward(session, order)


def queue_forward(session: Session, order: Order) -> None:
    order.forward_state = QUEUED
    session.flush()
    enqueue(session, FORWARD_JOB, {"order_id": order.id}, dedupe_key=forward_key(order.id))


def forward_key(order_id: int) -> str:
    """The dedupe key of an order's forward job: one queued at a time."""
    return f"forward:{order_id}"
