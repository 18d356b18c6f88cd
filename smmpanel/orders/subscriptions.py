"""Provider-backed subscriptions, the order side: one upstream order, whose
posts come back as child orders.

The subscription is forwarded once (``forwarding.upstream_params`` sends its
username/min/max/posts/old_posts/delay/expiry) and charged nothing at
placement.  Each status sync brings back the ids of the orders the upstream
made for new posts and the subscription's cumulative charge there
(providers/subscription_sync.py reads them from the status answer);
``record_posts`` makes a local child order for each new post and charges it
for the units it got (see orders/posts.py): the increase of that charge
since the last sync, at the provider's rate for the service, tells them when
one post is new; a post whose units cannot be told so is charged at ``max``
and settled (a refund of the difference, once) when its own status shows
what it cost (``settle_provisional_post``).  From then on a post is an
ordinary forwarded order: synced, and refunded on Partial or Canceled by the
core.

When the balance does not cover a post, that post is recorded Canceled with
charge 0, the subscription is stopped (a cancel is forwarded upstream) and
the owner is alerted.  ``expire_subscriptions`` (a scheduled job) stops
subscriptions whose expiry date has passed, for upstreams that do not honour
``expiry`` themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smmpanel.db import Database
from smmpanel.money import charge_units, div_half_up, format_units
from smmpanel.orders.forwarding_states import ForwardState
from smmpanel.orders.lifecycle import change_order_status, lock_order
from smmpanel.orders.models import (
    ACTIVE_STATUSES,
    CANCELED,
    KIND_SUBSCRIPTION,
    PARTIAL,
    REQUEST_COMPLETED,
    REQUEST_REJECTED,
    Cancel,
    Order,
)
from smmpanel.orders.posts import is_provisional, make_post, post_max, settle_post
from smmpanel.orders.requests import queue_request_forward
from smmpanel.panel.alerts import raise_alert
from smmpanel.timeutil import utcnow

log = logging.getLogger("smmpanel.subscriptions")

# The provider's last known rate (its currency, per 1000) for a post's
# service, asked only when a charge must be turned into units.
UpstreamRate = Callable[[], int | None]

ACTOR = "subscription"
# Subscription params key: its upstream charge at the last sync, minor units.
UPSTREAM_CHARGE = "upstream_charge"


def record_posts(
    session: Session,
    sub: Order,
    *,
    listed: list[str],
    upstream_charge: int | None,
    upstream_rate: UpstreamRate,
    actor: str,
) -> int:
    """Make and charge a local child order for each post the upstream `listed`
    (its order ids) that is not known yet (inside the sync's transaction, the
    subscription locked).  `upstream_charge` is the subscription's cumulative
    charge at its upstream (minor units), when the upstream tells it.  Returns
    how many posts were made.

    One new post since the last sync is charged for the units the upstream's
    charge increase paid for (at its rate for the service); several at once,
    or when that cannot be told, are charged provisionally at `max` and
    settled when their own status shows what they cost (``settle_provisional_post``).
    """
    if sub.kind != KIND_SUBSCRIPTION or sub.provider_id is None:
        return 0
    known = set(session.scalars(select(Order.provider_order_id).where(Order.parent_id == sub.id)))
    fresh = [upstream_id for upstream_id in listed if upstream_id not in known]
    charged_before = _upstream_charge(sub)
    if upstream_charge is not None and upstream_charge != charged_before:
        sub.params = {**(sub.params or {}), UPSTREAM_CHARGE: upstream_charge}
    if not fresh:
        return 0
    most = post_max(sub)
    units = None
    if len(fresh) == 1 and upstream_charge is not None:
        units = _units_paid(upstream_charge - charged_before, upstream_rate)
    unpaid: list[Order] = []
    for upstream_id in fresh:
        post, paid = make_post(
            session,
            sub,
            quantity=min(units, most) if units else most,
            actor=actor,
            provider_order_id=upstream_id,
            forward_state=ForwardState.ACCEPTED,
            provisional=not units,
            record_unpaid=True,
        )
        if not paid:
            _cancel_unpaid(session, post, actor)
            unpaid.append(post)
    sub.updated_at = utcnow()
    if unpaid and sub.status in ACTIVE_STATUSES:
        _stopped_for_funds(session, sub, unpaid, actor=actor)
    return len(fresh)


def _upstream_charge(sub: Order) -> int:
    """The subscription's charge at its upstream at the last sync (minor units)."""
    try:
        return int((sub.params or {}).get(UPSTREAM_CHARGE, 0))
    except (TypeError, ValueError):
        return 0


def _units_paid(upstream_amount: int, upstream_rate: UpstreamRate) -> int | None:
    """The units an upstream charge of `upstream_amount` paid for, at its rate for
    the order's service; None when that cannot be told (unknown rate, no charge)."""
    if upstream_amount <= 0:
        return None
    rate = upstream_rate()
    if not rate:
        return None
    return div_half_up(upstream_amount * 1000, rate) or None


def settle_provisional_post(
    session: Session,
    post: Order,
    *,
    status: str | None,
    reported_units: int | None,
    upstream_charge: int | None,
    remains: int | None,
    upstream_rate: UpstreamRate,
    actor: str,
) -> int:
    """Settle a post charged provisionally at `max` from its own upstream status:
    the units it reports, or those its `upstream_charge` paid for (plus its
    `remains` when it ended Partial: the charge shown is then net of the
    upstream's refund).  Returns the amount refunded; 0 while that cannot be
    told yet."""
    if not is_provisional(post) or status is None:
        return 0
    units = reported_units
    if units is None and status != CANCELED and upstream_charge is not None:
        units = _units_paid(upstream_charge, upstream_rate)
        if units is not None and status == PARTIAL:
            units += remains or 0
    if units is None:
        if status != CANCELED and not upstream_rate():
            _alert_unsettled(session, post)
        return 0
    return settle_post(session, post, units=units, actor=actor)


def _alert_unsettled(session: Session, post: Order) -> None:
    raise_alert(
        session,
        kind="post_not_settled",
        subject=f"order {post.parent_id}",
        message=f"Posts of subscription {post.parent_id} stay charged at its max: the "
        "provider's rate for its service is unknown. Run `smmpanel providers sync-prices` "
        "so that they are settled for what they delivered.",
    )


def _cancel_unpaid(session: Session, post: Order, actor: str) -> None:
    """A post the balance did not cover is recorded Canceled, charge 0."""
    change_order_status(
        session,
        post,
        status=CANCELED,
        actor=actor,
        note="not enough funds for "
        f"{format_units(charge_units(post.rate, post.quantity))} {post.currency}",
    )


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
    if sub.forward_state in (ForwardState.QUEUED, ForwardState.FAILED):  # not at its provider
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
