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
from smmpanel.jobs.kinds import JobKind
from smmpanel.jobs.queue import enqueue
from smmpanel.orders.forwarding_states import ForwardState, move_forward_state
from smmpanel.orders.models import Order, OrderKind

# Who the events of a move of the forwarding state name, when the worker or
# the placing of an order makes it.
FORWARDING_ACTOR = "forwarding"


def is_provider_backed(session: Session, service_id: int) -> bool:
    return session.execute(_HAS_SOURCE, {"service_id": service_id}).first() is not None


_HAS_SOURCE = (
    select(ServiceSource.id).where(ServiceSource.service_id == bindparam("service_id")).limit(1)
)


def plan_fulfilment(
    session: Session,
    *,
    order_id: int,
    service_id: int,
    actor: str = FORWARDING_ACTOR,
    provider_backed: bool | None = None,
) -> None:
    """Queue a new order for forwarding when its service has upstream sources
    (`provider_backed`: whether it has, when the caller read it already)."""
    if provider_backed is None:
        provider_backed = is_provider_backed(session, service_id)
    if not provider_backed:
        return
    order = session.get(Order, order_id)
    assert order is not None  # inserted in this transaction
    if order.kind == OrderKind.DRIPFEED:
        move_forward_state(session, order=order, to=ForwardState.PARENT, actor=actor)
        order.next_run_at = order.created_at
        # The first run goes now, not at the next tick of the drip-feed schedule
        # (same dedupe key: never two such jobs queued at once).
        enqueue(session, JobKind.DRIPFEED_RUNS, {}, dedupe_key="schedule:dripfeed")
        return
    queue_forward(session, order, actor=actor)


def queue_forward(session: Session, order: Order, *, actor: str = FORWARDING_ACTOR) -> None:
    session.flush()
    move_forward_state(session, order=order, to=ForwardState.QUEUED, actor=actor)
    enqueue(
        session, JobKind.FORWARD_ORDER, {"order_id": order.id}, dedupe_key=forward_key(order.id)
    )


def forward_key(order_id: int) -> str:
    """The dedupe key of an order's forward job: one queued at a time."""
    return f"forward:{order_id}"
