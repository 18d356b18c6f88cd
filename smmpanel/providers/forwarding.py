"""Forwarding an order upstream, with a recorded step before and after the call.

    queued --(tx: provider chosen, state=sending)--> [upstream add] --(tx)--> accepted
                                                   (or reconcile | queued | rejected)

A crash anywhere leaves a state that says what to do next: `queued`, send
it; `sending`, the call may have reached the upstream, so resend only where
the upstream honours request_id (another smmpanel), otherwise reconcile
first; `accepted`, done.

The mappings of the order's service are tried in priority order.  What each
upstream answer does (docs/providers.md has the table):

- accepted: done;
- unreachable, nothing sent (connection refused, DNS or TLS failure, HTTP
  429), or refused for a reason of the provider's own (unknown service, rate
  limited, ...): the next mapping is tried;
- "not enough funds" or a wrong key: the provider is paused (with an alert)
  and the next mapping is tried;
- no mapping can take it now (all paused or unreachable): the order waits, as
  long as it takes (the job's attempts are not spent), retried with a capped
  backoff, and at once when a provider is resumed; an alert is raised when it
  has waited past SMMPANEL_ORDER_WAIT_ALERT_MINUTES;
- refused for a reason of the order's own (a bad link, ...), or every
  mapping refused it: canceled and refunded;
- a timeout or an unreadable answer after the request was sent: never retried
  or refunded blindly: reconciled (see reconcile.py).

A forward job that truly fails (another error, after its attempts) leaves the
order `failed` (or `reconcile` when it may have been sent), with an alert:
`smmpanel orders list --stuck`, `orders resend ID`, or `orders update ID
--status canceled` to refund it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import record_audit, subject
from smmpanel.catalog.models import ServiceSource
from smmpanel.db import Database
from smmpanel.jobs.crash import crash_point
from smmpanel.jobs.errors import RetryLater
from smmpanel.jobs.kinds import JobKind
from smmpanel.jobs.queue import enqueue, wake_jobs
from smmpanel.orders.errors import InvalidOrderRequest, InvalidStatusChange
from smmpanel.orders.forwarding_states import ForwardState, can_move, move_forward_state
from smmpanel.orders.fulfilment import FORWARDING_ACTOR as ACTOR
from smmpanel.orders.fulfilment import forward_key
from smmpanel.orders.lifecycle import change_order_status, lock_order
from smmpanel.orders.models import ACTIVE_STATUSES, CANCELED, Order, OrderKind
from smmpanel.orders.order_alerts import STUCK_ALERT, order_alert_subject
from smmpanel.panel.alerts import raise_alert, resolve_alerts
from smmpanel.providers.gateway import ProviderAccess, open_upstream
from smmpanel.providers.models import (
    PROVIDER_ACTIVE,
    Provider,
    ProviderOrderRecord,
    UpstreamService,
)
from smmpanel.providers.service import pause_provider
from smmpanel.providers.upstream import (
    UpstreamOutcomeUnknown,
    UpstreamRefused,
    UpstreamUnreachable,
    UpstreamUnreadable,
)
from smmpanel.timeutil import as_utc, utcnow

log = logging.getLogger("smmpanel.forwarding")

# Errors that concern the provider, not the order: the next provider is tried.
PROVIDER_ERRORS = frozenset({"incorrect_service", "rate_limited", "unknown", "too_many_ids"})
# Errors the owner must fix at the provider: pause it and let orders wait.
PAUSING_ERRORS = frozenset({"not_enough_funds", "invalid_key"})
# A waiting order is tried again after half the time it has waited, within these.
WAIT_RETRY_MIN_SECONDS = 5.0
WAIT_RETRY_MAX_SECONDS = 300.0
DEFAULT_WAIT_ALERT = timedelta(minutes=60)


@dataclass(frozen=True)
class Attempt:
    order_id: int
    access: ProviderAccess
    upstream_service_id: str
    request_id: str
    params: dict[str, Any]
    resend: bool
    elapsed_ms: int | None = None  # how long the call took, once made


@dataclass(frozen=True)
class Wait:
    """No provider can take the order now; it has waited since `since`."""

    reason: str
    since: datetime


def forward_order(
    db: Database, payload: dict[str, Any], *, wait_alert_after: timedelta = DEFAULT_WAIT_ALERT
) -> None:
    """Job handler: forward one order (safe to run again after any crash)."""
    _forward(db, int(payload["order_id"]), frozenset(), wait_alert_after)


def _forward(
    db: Database, order_id: int, unreachable: frozenset[int], wait_alert_after: timedelta
) -> None:
    """Try the order's mappings in turn; `unreachable`: providers that could not
    be reached in this run (the next run tries them again)."""
    step = _prepare(db, order_id, unreachable, wait_alert_after)
    if isinstance(step, Wait):
        raise RetryLater(step.reason, delay=wait_delay(step.since), waiting=True)
    if step is None:
        return
    attempt = step
    crash_point("forward:before_send")
    started = time.monotonic()
    try:
        try:
            with open_upstream(attempt.access) as upstream:
                placed = upstream.add(
                    int(attempt.upstream_service_id)
                    if attempt.upstream_service_id.isdigit()
                    else attempt.upstream_service_id,
                    request_id=attempt.request_id if attempt.access.honours_request_id else None,
                    **attempt.params,
                )
        finally:  # before the handlers below: each records the call with its time
            attempt = replace(attempt, elapsed_ms=round((time.monotonic() - started) * 1000))
    except UpstreamRefused as refused:
        if _refused(db, attempt, refused):
            _forward(db, order_id, unreachable, wait_alert_after)
        return
    except (UpstreamOutcomeUnknown, UpstreamUnreadable) as unknown:
        _outcome_unknown(db, attempt, unknown)
        return
    except UpstreamUnreachable as failed:
        if not nothing_sent(failed):
            _outcome_unknown(db, attempt, failed)
            return
        if attempt.resend:
            # An earlier send may have reached this provider: only it may get the
            # order, with the same request_id, once it answers again.
            _wait_resend(db, attempt, str(failed), wait_alert_after)
        _record(db, attempt, "unreachable", str(failed), state=ForwardState.QUEUED)
        _forward(db, order_id, unreachable | {attempt.access.id}, wait_alert_after)
        return
    crash_point("forward:after_send")
    _accepted(db, attempt, placed)
    crash_point("forward:after_accept")


def nothing_sent(error: UpstreamUnreachable) -> bool:
    """The upstream surely got no order: the connection was never made (the SDK
    says so), or it answered HTTP 429 (rate limited) without acting."""
    return error.nothing_sent or error.status_code == 429


def wait_delay(since: datetime, *, now: datetime | None = None) -> float:
    """Seconds until a waiting order is tried again: half the time it has waited,
    from WAIT_RETRY_MIN_SECONDS up to WAIT_RETRY_MAX_SECONDS."""
    waited = ((now or utcnow()) - as_utc(since)).total_seconds()
    return min(WAIT_RETRY_MAX_SECONDS, max(WAIT_RETRY_MIN_SECONDS, waited / 2))


def _prepare(
    db: Database, order_id: int, unreachable: frozenset[int], wait_alert_after: timedelta
) -> Attempt | Wait | None:
    """Step 1 (one transaction): decide what to send and record `sending`, or
    record that the order waits."""
    with db.write() as session:
        order = lock_order(session, order_id)
        if order.status not in ACTIVE_STATUSES:
            return None
        if order.forward_state == ForwardState.SENDING:
            return _resume_sending(session, order)
        if order.forward_state != ForwardState.QUEUED:
            return None
        choice = _choose_source(session, order, unreachable)
        if isinstance(choice, str):
            return _mark_waiting(session, order, choice, wait_alert_after)
        if choice is None:
            return None
        source, provider = choice
        order.provider_id = provider.id
        order.forward_request_id = f"smmpanel-{order.id}-p{provider.id}"
        move_forward_state(
            session, order=order, to=ForwardState.SENDING, actor=ACTOR, reason=provider.name
        )
        return Attempt(
            order.id,
            ProviderAccess.of(provider),
            source.upstream_service_id,
            order.forward_request_id,
            upstream_params(order),
            resend=False,
        )


def _resume_sending(session: Session, order: Order) -> Attempt | None:
    """A previous run stopped mid-call.  Resend only where that is safe."""
    provider = session.get(Provider, order.provider_id) if order.provider_id else None
    source = _source_of(session, order)
    if provider is None or source is None or order.forward_request_id is None:
        _mark_reconcile(session, order, "the forwarding was interrupted")
        return None
    access = ProviderAccess.of(provider)
    if not access.honours_request_id:
        _mark_reconcile(
            session, order, "the forwarding was interrupted after it may have been sent"
        )
        return None
    return Attempt(
        order.id,
        access,
        source.upstream_service_id,
        order.forward_request_id,
        upstream_params(order),
        resend=True,
    )


def _choose_source(
    session: Session, order: Order, unreachable: frozenset[int]
) -> tuple[ServiceSource, Provider] | str | None:
    """The first mapping that can take the order; a reason to wait when every
    mapping left is paused or unreachable; None (the order rejected) when no
    mapping is left."""
    gone = select(UpstreamService.upstream_id).where(
        UpstreamService.provider_id == ServiceSource.provider_id,
        UpstreamService.upstream_id == ServiceSource.upstream_service_id,
        UpstreamService.gone.is_(True),
    )
    rows = session.execute(
        select(ServiceSource, Provider)
        .join(Provider, Provider.id == ServiceSource.provider_id)
        .where(ServiceSource.service_id == order.service_id, ~gone.exists())
        .order_by(ServiceSource.priority, ServiceSource.id)
    ).all()
    candidates = [(s, p) for s, p in rows if p.id not in (order.forward_skip or [])]
    for source, provider in candidates:
        if provider.status == PROVIDER_ACTIVE and provider.id not in unreachable:
            return source, provider
    if candidates:
        paused = [p.name for _, p in candidates if p.status != PROVIDER_ACTIVE]
        down = [p.name for _, p in candidates if p.status == PROVIDER_ACTIVE]
        causes = ([f"paused: {', '.join(paused)}"] if paused else []) + (
            [f"unreachable: {', '.join(down)}"] if down else []
        )
        return f"no provider can take it now ({'; '.join(causes)})"
    _reject(session, order, "no provider accepted the order")
    return None


def _mark_waiting(session: Session, order: Order, reason: str, alert_after: timedelta) -> Wait:
    now = utcnow()
    if order.waiting_since is None:
        order.waiting_since = now
    order.forward_error = reason[:500]
    since = as_utc(order.waiting_since)
    if now - since >= alert_after:
        _alert_waiting(session, order, reason, alert_after, now)
    log.info("order %s waits: %s", order.id, reason)
    return Wait(reason, since)


def _alert_waiting(
    session: Session, order: Order, reason: str, alert_after: timedelta, now: datetime
) -> None:
    count = session.scalar(
        select(func.count(Order.id)).where(
            Order.waiting_since <= now - alert_after, Order.status.in_(ACTIVE_STATUSES)
        )
    )
    minutes = int(alert_after.total_seconds() // 60)
    raise_alert(
        session,
        kind="orders_waiting",
        subject="forwarding",
        message=f"{count or 1} orders have waited over {minutes} minutes for a provider, "
        f"e.g. order {order.id}: {reason}. They keep waiting: see `smmpanel orders list "
        "--waiting`; `smmpanel providers resume NAME` sends them at once.",
    )


def _wait_resend(db: Database, attempt: Attempt, why: str, alert_after: timedelta) -> NoReturn:
    """The resend of an interrupted send could not reach its provider: wait for it."""
    with db.write() as session:
        order = lock_order(session, attempt.order_id)
        session.add(_call(attempt, "unreachable", why))
        wait = _mark_waiting(session, order, f"resend to {attempt.access.name}: {why}", alert_after)
    raise RetryLater(wait.reason, delay=wait_delay(wait.since), waiting=True)


def _source_of(session: Session, order: Order) -> ServiceSource | None:
    return session.execute(
        select(ServiceSource).where(
            ServiceSource.service_id == order.service_id,
            ServiceSource.provider_id == order.provider_id,
        )
    ).scalar_one_or_none()


def _accepted(db: Database, attempt: Attempt, upstream_id: str) -> None:
    with db.write() as session:
        order = lock_order(session, attempt.order_id)
        if not can_move(order.forward_state, ForwardState.ACCEPTED):
            # Settled here while the call was under way (the owner canceled it
            # as never sent): the move is refused, but what the upstream said
            # is kept in the call record for the owner to act on.
            log.warning(
                "order %s is %s, yet %s accepted it as upstream order %s",
                order.id,
                order.forward_state,
                attempt.access.name,
                upstream_id,
            )
            detail = f"upstream order {upstream_id}, after the order was {order.forward_state}"
            session.add(_call(attempt, "accepted", detail))
            return
        order.provider_order_id = upstream_id
        move_forward_state(
            session,
            order=order,
            to=ForwardState.ACCEPTED,
            actor=ACTOR,
            reason=f"upstream order {upstream_id} at {attempt.access.name}",
        )
        order.waiting_since, order.forward_error = None, ""
        session.add(_call(attempt, "accepted", f"upstream order {upstream_id}"))


def _refused(db: Database, attempt: Attempt, refused: UpstreamRefused) -> bool:
    """The upstream answered with an error: it surely has no order.  True when
    the order is queued again for the next provider."""
    with db.write() as session:
        order = lock_order(session, attempt.order_id)
        session.add(_call(attempt, refused.code, refused.message))
        if refused.code in PAUSING_ERRORS:
            if pause_provider(session, attempt.access.id, f"{refused.code}: {refused.message}"):
                raise_alert(
                    session,
                    kind="provider_paused",
                    subject=attempt.access.name,
                    message=f"Provider {attempt.access.name} paused: {refused.message}. "
                    "Orders wait for it; resume it with `smmpanel providers resume`.",
                )
            _requeue(session, order, attempt, refused)
        elif refused.code in PROVIDER_ERRORS:
            order.forward_skip = [*(order.forward_skip or []), attempt.access.id]
            _requeue(session, order, attempt, refused)
        else:
            _reject(session, order, f"{attempt.access.name} refused: {refused.message}")
            return False
    # Queued again: the caller tries the next provider now; the order waits
    # when only paused providers are left, and is canceled when none is.
    return True


def _requeue(session: Session, order: Order, attempt: Attempt, refused: UpstreamRefused) -> None:
    why = f"{attempt.access.name} refused: {refused.code}"
    move_forward_state(session, order=order, to=ForwardState.QUEUED, actor=ACTOR, reason=why)


def _outcome_unknown(db: Database, attempt: Attempt, error: Exception) -> None:
    if attempt.access.honours_request_id:
        _record(db, attempt, "unknown", str(error), state=ForwardState.SENDING)
        raise RetryLater("outcome unknown; resending with the same request_id")
    with db.write() as session:
        order = lock_order(session, attempt.order_id)
        session.add(_call(attempt, "unknown", str(error)))
        _mark_reconcile(session, order, str(error))


def _mark_reconcile(session: Session, order: Order, why: str) -> None:
    move_forward_state(session, order=order, to=ForwardState.RECONCILE, actor=ACTOR, reason=why)
    enqueue(
        session, JobKind.RECONCILE_ORDER, {"order_id": order.id}, dedupe_key=f"reconcile:{order.id}"
    )
    log.warning("order %s needs reconciliation: %s", order.id, why)


def _reject(session: Session, order: Order, why: str) -> None:
    move_forward_state(session, order=order, to=ForwardState.REJECTED, actor=ACTOR, reason=why)
    order.waiting_since, order.forward_error = None, why[:500]
    change_order_status(session, order, status=CANCELED, actor=ACTOR, note=why[:500])


def _record(
    db: Database, attempt: Attempt, outcome: str, detail: str, *, state: ForwardState
) -> None:
    with db.write() as session:
        order = lock_order(session, attempt.order_id)
        why = f"{attempt.access.name}: {outcome}"
        move_forward_state(session, order=order, to=state, actor=ACTOR, reason=why)
        session.add(_call(attempt, outcome, detail))


def _call(attempt: Attempt, outcome: str, detail: str) -> ProviderOrderRecord:
    return ProviderOrderRecord(
        provider_id=attempt.access.id,
        order_id=attempt.order_id,
        action="add",
        outcome=outcome[:32],
        detail=detail[:2000],
        elapsed_ms=attempt.elapsed_ms,
    )


def forward_failed(session: Session, payload: dict[str, Any], error: str) -> None:
    """Failure hook of the forward job (in the transaction that fails it): leave
    the order where the owner sees it and can act, and alert."""
    order = session.execute(
        select(Order).where(Order.id == int(payload["order_id"])).with_for_update()
    ).scalar_one_or_none()
    if order is None or order.status not in ACTIVE_STATUSES:
        return
    if order.forward_state == ForwardState.SENDING:
        # It may have reached the provider: find out before anything else.
        _mark_reconcile(session, order, f"its forward job failed: {error}")
        what = "may have been sent; it is being reconciled (smmpanel orders list --reconcile)"
    elif order.forward_state == ForwardState.QUEUED:
        why = f"its forward job failed: {error}"
        move_forward_state(session, order=order, to=ForwardState.FAILED, actor=ACTOR, reason=why)
        what = (
            f"was not sent. Resend it with `smmpanel orders resend {order.id}`, or cancel "
            f"and refund it with `smmpanel orders update {order.id} --status canceled`"
        )
    else:
        return
    order.waiting_since, order.forward_error = None, error[:500]
    raise_alert(
        session,
        kind=STUCK_ALERT,
        subject=order_alert_subject(order.id),
        message=f"Order {order.id} could not be forwarded ({error[:300]}); it {what}.",
    )


def resend_order(db: Database, *, order_id: int, actor: Actor) -> bool:
    """The owner sends a failed (or waiting) order again, to every mapping of its
    service in turn, as new.  Returns True when a new forward job was queued,
    False when the waiting one was made due now."""
    with db.write() as session:
        order = lock_order(session, order_id)
        if order.status not in ACTIVE_STATUSES:
            raise InvalidStatusChange(f"order {order_id} is {order.status}: nothing to send")
        if order.forward_state is None or order.forward_state == ForwardState.PARENT:
            raise InvalidOrderRequest(f"order {order_id} is not forwarded to a provider")
        if order.forward_state not in (ForwardState.QUEUED, ForwardState.FAILED):
            raise InvalidStatusChange(
                f"order {order_id} is {order.forward_state} at its provider already"
                + (
                    "; see `smmpanel providers reconcile`"
                    if order.forward_state == ForwardState.RECONCILE
                    else ""
                )
            )
        record_audit(
            session,
            actor=actor,
            action=AuditAction.ORDER_RESENT,
            subject=subject("order", order_id),
            before={"forward_state": order.forward_state, "error": order.forward_error},
            after={"forward_state": ForwardState.QUEUED},
        )
        move_forward_state(
            session, order=order, to=ForwardState.QUEUED, actor=str(actor), reason="resent"
        )
        order.forward_skip = []
        order.waiting_since, order.forward_error = None, ""
        resolve_alerts(session, kind=STUCK_ALERT, subject=order_alert_subject(order_id))
        key = forward_key(order_id)
        job = enqueue(session, JobKind.FORWARD_ORDER, {"order_id": order_id}, dedupe_key=key)
        if job is None:
            wake_jobs(session, [key])
        return job is not None


_PASSED_AS_IS = (
    "comments",
    "usernames",
    "hashtags",
    "hashtag",
    "username",
    "media",
    "answer_number",
    "groups",
    "keywords",
    "country",
    "device",
    "type_of_traffic",
    "google_keyword",
    "referring_url",
    "min",
    "max",
    "posts",
    "old_posts",
    "delay",
)


def upstream_params(order: Order) -> dict[str, Any]:
    """The `add` parameters for the upstream, from what the customer gave."""
    params: dict[str, Any] = {}
    if order.link:
        params["link"] = order.link
    extra = order.params or {}
    if extra.get("min") is None and not order.package:
        params["quantity"] = order.quantity
    for name in _PASSED_AS_IS:
        value = extra.get(name)
        if value is not None:
            params[name] = "\n".join(value) if isinstance(value, list) else value
    if "keywords" in params:
        params["keywords"] = params["keywords"].replace("\n", ",")
    if extra.get("expiry"):
        year, month, day = str(extra["expiry"]).split("-")
        params["expiry"] = f"{int(day)}/{int(month)}/{year}"
    if order.kind == OrderKind.SUBSCRIPTION:
        params.pop("link", None)
    return params
