"""Provider-backed subscriptions: one upstream order, whose posts come back as
child orders.

The subscription is forwarded once (``forwarding.upstream_params`` sends its
username/min/max/posts/old_posts/delay/expiry) and charged nothing at
placement.  Each status sync brings back the ids of the orders the upstream
made for new posts (``"orders": [ids]`` in the status answer);
``record_subscription_posts`` makes a local child order for each new one and
charges it then (rate x max / 1000: the most a post can cost).  From then on
a post is an ordinary forwarded order: synced, and refunded on Partial or
Canceled by the core.

When the balance does not cover a post, that post is recorded Canceled with
charge 0, the subscription is stopped (a cancel is forwarded upstream) and
the owner is alerted.  ``expire_subscriptions`` (a scheduled job) stops
subscriptions whose expiry date has passed, for upstreams that do not honour
``expiry`` themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smmpanel.client import OrderStatusResult
from smmpanel.db import Database
from smmpanel.jobs.alerts import raise_alert
from smmpanel.ledger import models as ledger_models
from smmpanel.ledger.errors import InsufficientFunds
from smmpanel.ledger.service import post_entry
from smmpanel.money import charge_units, format_units
from smmpanel.orders import fulfilment as states
from smmpanel.orders.lifecycle import change_order_status, lock_order
from smmpanel.orders.models import (
    ACTIVE_STATUSES,
    CANCELED,
    KIND_ORDER,
    KIND_SUBSCRIPTION,
    PENDING,
    REQUEST_COMPLETED,
    REQUEST_REJECTED,
    Cancel,
    Order,
    OrderEvent,
)
from smmpanel.orders.requests import queue_request_forward
from smmpanel.timeutil import utcnow

log = logging.getLogger("smmpanel.subscriptions")

EXPIRY_JOB = "subscription_expiry"
ACTOR = "subscription"


def upstream_post_ids(raw: dict[str, Any]) -> list[str]:
    """The upstream ids of a subscription's post orders, in the order given
    (a list of numbers or strings, or a comma-separated string)."""
    value = raw.get("orders")
    items: Iterable[Any]
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        return []
    seen: dict[str, None] = {}
    for item in items:
        text = str(item).strip()
        if text.isdigit():
            seen.setdefault(str(int(text)), None)
    return list(seen)


def record_subscription_posts(
    session: Session, sub: Order, result: OrderStatusResult, *, actor: str
) -> int:
    """Make and charge a local child order for each post the upstream listed that
    is not known yet (inside the sync's transaction, the subscription locked).
    Returns how many were made."""
    if sub.kind != KIND_SUBSCRIPTION or sub.provider_id is None:
        return 0
    listed = upstream_post_ids(result.raw)
    if not listed:
        return 0
    known = set(session.scalars(select(Order.provider_order_id).where(Order.parent_id == sub.id)))
    number = len(known)
    unpaid: list[Order] = []
    for upstream_id in listed:
        if upstream_id in known:
            continue
        number += 1
        post = _new_post(session, sub, upstream_id, number)
        if not _charge_post(session, post, actor):
            unpaid.append(post)
    made = number - len(known)
    if made:
        sub.updated_at = utcnow()
    if unpaid and sub.status in ACTIVE_STATUSES:
        _stopped_for_funds(session, sub, unpaid, actor=actor)
    return made


def _post_quantity(sub: Order) -> int:
    try:
        return max(0, int((sub.params or {}).get("max", sub.quantity)))
    except (TypeError, ValueError):
        return sub.quantity


def _new_post(session: Session, sub: Order, upstream_id: str, number: int) -> Order:
    now = utcnow()
    quantity = _post_quantity(sub)
    post = Order(
        account_id=sub.account_id,
        service_id=sub.service_id,
        kind=KIND_ORDER,
        link=sub.link,
        quantity=quantity,
        total_quantity=quantity,
        remains=quantity,
        rate=sub.rate,
        charge=0,
        package=False,
        currency=sub.currency,
        status=PENDING,
        params={"subscription": sub.id},
        active_link=None,
        created_at=now,
        updated_at=now,
        provider_id=sub.provider_id,
        provider_order_id=upstream_id,
        forward_state=states.ACCEPTED,
        parent_id=sub.id,
        run_number=number,
    )
    session.add(post)
    session.flush()
    session.add(
        OrderEvent(
            order_id=post.id,
            to_status=PENDING,
            actor=ACTOR,
            note=f"post {number} of subscription {sub.id} (upstream order {upstream_id})",
            created_at=now,
        )
    )
    return post


def _charge_post(session: Session, post: Order, actor: str) -> bool:
    """Charge the post now; False (and the post Canceled, charge 0) when the
    balance does not cover it."""
    amount = charge_units(post.rate, post.quantity)
    if amount == 0:
        return True
    try:
        post_entry(
            session,
            account_id=post.account_id,
            kind=ledger_models.CHARGE,
            amount=-amount,
            actor=actor,
            cause=f"charge:order:{post.id}",
            order_id=post.id,
            note=f"post {post.run_number} of subscription {post.parent_id}",
        )
    except InsufficientFunds:
        change_order_status(
            session,
            post,
            status=CANCELED,
            actor=actor,
            note=f"not enough funds for {format_units(amount)} {post.currency}",
        )
        return False
    post.charge = amount
    session.flush()
    return True


def _stopped_for_funds(session: Session, sub: Order, unpaid: list[Order], *, actor: str) -> None:
    cancel = stop_subscription(session, sub, actor=actor, why="not enough funds for a post")
    posts = ", ".join(str(p.provider_order_id) for p in unpaid)
    raise_alert(
        session,
        kind="subscription_stopped",
        subject=f"order {sub.id}",
        message=f"Subscription {sub.id} (account {sub.account_id}) is stopped: the balance "
        f"did not cover its posts (upstream orders {posts}), recorded canceled and not "
        "charged" + (f"; cancel request {cancel.id} was sent upstream." if cancel else "."),
    )


def stop_subscription(session: Session, sub: Order, *, actor: str, why: str) -> Cancel | None:
    """Open a cancel request for the subscription, as a customer's cancel does:
    canceled here and now when it was not sent upstream yet, otherwise forwarded
    to its provider.  None when it is final or a cancel is pending already."""
    if sub.status not in ACTIVE_STATUSES:
        return None
    pending = session.execute(select(Cancel.id).where(Cancel.open_order_id == sub.id)).first()
    if pending is not None:
        return None
    cancel = Cancel(order_id=sub.id, account_id=sub.account_id, type=sub.kind, open_order_id=sub.id)
    try:
        with session.begin_nested():
            session.add(cancel)
            session.flush()
    except IntegrityError:
        return None  # a concurrent cancel request was first
    log.info("subscription %s stopped: %s", sub.id, why)
    if sub.forward_state == states.QUEUED:
        change_order_status(session, sub, status=CANCELED, actor=actor, note=why)
        cancel.status, cancel.open_order_id = REQUEST_COMPLETED, None
    else:
        queue_request_forward(session, cancel)
    return cancel


def expiry_of(sub: Order) -> date | None:
    value = (sub.params or {}).get("expiry")
    if not value:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def is_expired(sub: Order, today: date) -> bool:
    """The expiry day is the last day of the subscription."""
    expiry = expiry_of(sub)
    return expiry is not None and expiry < today


def expire_subscriptions(db: Database, *, today: date | None = None) -> list[int]:
    """Stop every active provider-backed subscription whose expiry date has
    passed; returns the ids of those stopped now."""
    today = today or utcnow().date()
    query = select(Order).where(
        Order.kind == KIND_SUBSCRIPTION,
        Order.status.in_(ACTIVE_STATUSES),
        Order.forward_state.is_not(None),
    )
    with db.read() as session:
        due = [sub.id for sub in session.scalars(query) if is_expired(sub, today)]
    stopped = []
    for sub_id in due:
        with db.write() as session:
            sub = lock_order(session, sub_id)
            if sub.status not in ACTIVE_STATUSES or not is_expired(sub, today):
                continue
            if _cancel_refused_before(session, sub):
                raise_alert(
                    session,
                    kind="subscription_expired",
                    subject=f"order {sub.id}",
                    message=f"Subscription {sub.id} expired on {expiry_of(sub)} but its "
                    "provider refused to cancel it; stop it at the provider.",
                )
                continue
            why = f"expired on {expiry_of(sub)}"
            if stop_subscription(session, sub, actor=ACTOR, why=why) is not None:
                stopped.append(sub.id)
    return stopped


def _cancel_refused_before(session: Session, sub: Order) -> bool:
    found = session.execute(
        select(Cancel.id).where(Cancel.order_id == sub.id, Cancel.status == REQUEST_REJECTED)
    ).first()
    return found is not None


def subscription_expiry(db: Database, payload: dict[str, Any]) -> None:
    """Job handler: the scheduled expiry check."""
    stopped = expire_subscriptions(db)
    if stopped:
        log.info("subscriptions expired and stopped: %s", stopped)
