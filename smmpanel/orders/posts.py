"""Subscription posts: each post is a child order, charged for the units it got.

A subscription is charged nothing when it is placed.  Each post becomes a
child order (``parent_id`` = the subscription, ``run_number`` = its number)
charged rate x units / 1000 when it is made, never for more than the
subscription's ``max`` units:

- a manual subscription's posts are recorded by the owner with the units
  delivered (``record_post``, `smmpanel orders post`);
- a provider-backed subscription's posts come from the upstream
  (orders/subscriptions.py), which may charge one provisionally at ``max``
  and settle it later (``settle_post``): a refund of the difference, once,
  with its own ledger cause ``settle:order:<id>``.

What a subscription costs is the sum over its posts (orders/queries.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import money, record_audit, subject
from smmpanel.db import Database
from smmpanel.ledger import causes
from smmpanel.ledger import models as ledger_models
from smmpanel.ledger.errors import AlreadyPosted
from smmpanel.ledger.service import post_entry
from smmpanel.money import charge_units
from smmpanel.orders.creation import create_order
from smmpanel.orders.errors import InvalidOrderRequest, InvalidStatusChange, OrderNotFound
from smmpanel.orders.lifecycle import change_order_status, lock_order
from smmpanel.orders.models import (
    ACTIVE_STATUSES,
    COMPLETED,
    IN_PROGRESS,
    KIND_ORDER,
    KIND_SUBSCRIPTION,
    PENDING,
    Order,
    OrderEvent,
)
from smmpanel.timeutil import utcnow

# Who status events and ledger entries of a recorded post name (as before the trail).
OWNER = "owner"

# A post charged at `max` until the upstream tells what it delivered.
PROVISIONAL = "provisional"


def post_max(sub: Order) -> int:
    """The most units one post of `sub` may be charged for (its `max`)."""
    try:
        return max(0, int((sub.params or {}).get("max", sub.quantity)))
    except (TypeError, ValueError):
        return sub.quantity


class NewPost(NamedTuple):
    order: Order
    # False when the balance did not cover the post and it was recorded
    # uncharged (`record_unpaid`).
    paid: bool


def make_post(
    session: Session,
    sub: Order,
    *,
    quantity: int,
    actor: str,
    provider_order_id: str | None = None,
    forward_state: str | None = None,
    provisional: bool = False,
    record_unpaid: bool = False,
) -> NewPost:
    """Insert the next post of `sub` (caller holds its lock), charged rate x
    `quantity` / 1000.  When the balance does not cover it: InsufficientFunds
    (nothing recorded), or with `record_unpaid` the post is kept, uncharged,
    and ``paid`` is False."""
    number = _posts_made(session, sub.id) + 1
    params: dict[str, object] = {"subscription": sub.id}
    if provisional:
        params[PROVISIONAL] = True
    upstream = f" (upstream order {provider_order_id})" if provider_order_id else ""
    created = create_order(
        session,
        account_id=sub.account_id,
        service_id=sub.service_id,
        kind=KIND_ORDER,
        link=sub.link,
        quantity=quantity,
        rate=sub.rate,
        charge=charge_units(sub.rate, quantity),
        currency=sub.currency,
        params=params,
        provider_id=sub.provider_id if provider_order_id else None,
        provider_order_id=provider_order_id,
        forward_state=forward_state,
        parent_id=sub.id,
        run_number=number,
        actor=actor,
        note=f"post {number} of subscription {sub.id}{upstream}: {quantity} units",
        charge_note=f"post {number} of subscription {sub.id}: {quantity} units",
        record_unpaid=record_unpaid,
    )
    return NewPost(session.get_one(Order, created.order_id), created.paid)


def _posts_made(session: Session, sub_id: int) -> int:
    found = session.scalar(select(func.count(Order.id)).where(Order.parent_id == sub_id))
    return int(found or 0)


def is_provisional(order: Order) -> bool:
    return bool((order.params or {}).get(PROVISIONAL))


def settle_post(session: Session, post: Order, *, units: int, actor: str) -> int:
    """A post charged provisionally delivered `units` (capped at what it was
    charged for): refund the difference once and make the post that size.
    Returns the amount refunded (0 when there was nothing to give back)."""
    if not is_provisional(post):
        return 0
    units = max(1, min(units, post.total_quantity))
    due = post.charge - charge_units(post.rate, units) - post.refunded
    refunded = 0
    if due > 0:
        try:
            post_entry(
                session,
                account_id=post.account_id,
                kind=ledger_models.REFUND,
                amount=due,
                actor=actor,
                cause=causes.order_settlement(post.id),
                order_id=post.id,
                note=f"post {post.run_number} of subscription {post.parent_id}: "
                f"{units} of {post.total_quantity} units delivered",
            )
            post.refunded += due
            refunded = due
        except AlreadyPosted:
            pass  # settled before: exactly once
    post.quantity = post.total_quantity = units
    post.remains = min(post.remains, units)
    post.params = {k: v for k, v in (post.params or {}).items() if k != PROVISIONAL}
    post.updated_at = utcnow()
    session.add(
        OrderEvent(
            order_id=post.id,
            from_status=post.status,
            to_status=post.status,
            remains=post.remains,
            actor=actor,
            note=f"settled: {units} units delivered",
        )
    )
    return refunded


@dataclass(frozen=True)
class RecordedPost:
    order_id: int
    number: int
    charge: int
    currency: str


def record_post(
    db: Database,
    *,
    subscription_id: int,
    quantity: int,
    status: str = COMPLETED,
    actor: Actor,
) -> RecordedPost:
    """The owner records a post of a manual subscription: a child order of
    `quantity` units (1 to the subscription's max), charged for them, in
    `status`.  InsufficientFunds when the balance does not cover it (nothing
    is recorded)."""
    if status not in (*ACTIVE_STATUSES, COMPLETED):
        raise InvalidStatusChange("a new post is Pending, In progress, Processing or Completed")
    with db.write() as session:
        sub = lock_order(session, subscription_id)
        if sub.kind != KIND_SUBSCRIPTION:
            raise OrderNotFound(f"order {subscription_id} is not a subscription")
        if sub.forward_state is not None:
            raise InvalidOrderRequest(
                f"subscription {sub.id} is provider-backed: its posts come from the provider"
            )
        if sub.status not in ACTIVE_STATUSES:
            raise InvalidStatusChange(f"subscription {sub.id} is {sub.status}: no more posts")
        most = post_max(sub)
        if not 1 <= quantity <= most:
            raise InvalidOrderRequest(f"a post of subscription {sub.id} is 1 to {most} units")
        # Events and the ledger name the owner as before; the trail says which person.
        post = make_post(session, sub, quantity=quantity, actor=OWNER).order
        if status != PENDING:
            change_order_status(session, post, status=status, actor=OWNER)
        if sub.status == PENDING:
            change_order_status(session, sub, status=IN_PROGRESS, actor=OWNER, note="first post")
        record_audit(
            session,
            actor=actor,
            action=AuditAction.POST_RECORDED,
            subject=subject("order", sub.id),
            after={
                "post": post.id,
                "number": post.run_number,
                "quantity": quantity,
                "status": status,
                "charge": money(post.charge),
                "currency": post.currency,
            },
        )
        return RecordedPost(post.id, post.run_number or 0, post.charge, post.currency)
