"""Forwarding an order upstream, with a recorded step before and after the call.

    queued --(tx: provider chosen, state=sending)--> [upstream add] --(tx)--> accepted
                                                   (or reconcile | queued | rejected)

A crash anywhere leaves a state that says what to do next: `queued`, send
it; `sending`, the call may have reached the upstream, so resend only where
the upstream honours request_id (another smmpanel), otherwise reconcile
first; `accepted`, done.  An upstream answer of "not enough funds" pauses the
provider and keeps the order waiting; a definite rejection tries the next
provider and, when none is left, cancels and refunds; a timeout or an
unreadable answer is never retried or refunded blindly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smmpanel.client import ApiError, OrderMayExistError, ProtocolError, TransportError
from smmpanel.db import Database
from smmpanel.jobs.alerts import raise_alert
from smmpanel.jobs.crash import crash_point
from smmpanel.jobs.queue import enqueue
from smmpanel.jobs.worker import RetryLater
from smmpanel.orders import fulfilment as states
from smmpanel.orders.lifecycle import change_order_status, lock_order
from smmpanel.orders.models import ACTIVE_STATUSES, CANCELED, Order
from smmpanel.providers.gateway import ProviderAccess, open_client
from smmpanel.providers.models import (
    PROVIDER_ACTIVE,
    Provider,
    ProviderOrderRecord,
    ServiceSource,
    UpstreamService,
)
from smmpanel.providers.service import pause_provider

log = logging.getLogger("smmpanel.forwarding")

RECONCILE_JOB = "reconcile_order"
WAIT_FOR_FUNDS_SECONDS = 60.0
# Errors that concern the provider, not the order: the next provider is tried.
PROVIDER_ERRORS = frozenset({"incorrect_service", "rate_limited", "unknown", "too_many_ids"})
# Errors the owner must fix at the provider: pause it and let orders wait.
PAUSING_ERRORS = frozenset({"not_enough_funds", "invalid_key"})


@dataclass(frozen=True)
class Attempt:
    order_id: int
    access: ProviderAccess
    upstream_service_id: str
    request_id: str
    params: dict[str, Any]
    resend: bool


def forward_order(db: Database, payload: dict[str, Any]) -> None:
    """Job handler: forward one order (safe to run again after any crash)."""
    attempt = _prepare(db, int(payload["order_id"]))
    if attempt is None:
        return
    crash_point("forward:before_send")
    try:
        with open_client(attempt.access) as client:
            placed = client.add(
                int(attempt.upstream_service_id)
                if attempt.upstream_service_id.isdigit()
                else attempt.upstream_service_id,  # type: ignore[arg-type]
                request_id=attempt.request_id if attempt.access.honours_request_id else None,
                **attempt.params,
            )
    except ApiError as refused:
        _refused(db, attempt, refused)
        return
    except (OrderMayExistError, ProtocolError) as unknown:
        _outcome_unknown(db, attempt, unknown)
        return
    except TransportError as unreachable:
        # Nothing was sent (the SDK says so): send it later.
        _record(db, attempt, "unreachable", str(unreachable), state=states.QUEUED)
        raise RetryLater(f"provider {attempt.access.name} unreachable") from None
    crash_point("forward:after_send")
    _accepted(db, attempt, str(placed.order_id))
    crash_point("forward:after_accept")


def _prepare(db: Database, order_id: int) -> Attempt | None:
    """Step 1 (one transaction): decide what to send and record `sending`."""
    with db.write() as session:
        order = lock_order(session, order_id)
        if order.status not in ACTIVE_STATUSES:
            return None
        if order.forward_state == states.SENDING:
            return _resume_sending(session, order)
        if order.forward_state != states.QUEUED:
            return None
        choice = _choose_source(session, order)
        if choice is None:
            return None
        source, provider = choice
        order.provider_id = provider.id
        order.forward_request_id = f"smmpanel-{order.id}-p{provider.id}"
        order.forward_state = states.SENDING
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


def _choose_source(session: Session, order: Order) -> tuple[ServiceSource, Provider] | None:
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
        if provider.status == PROVIDER_ACTIVE:
            return source, provider
    if candidates:
        # Only paused providers are left (e.g. out of funds): the order waits.
        raise RetryLater("every provider for this service is paused", delay=WAIT_FOR_FUNDS_SECONDS)
    _reject(session, order, "no provider accepted the order")
    return None


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
        order.provider_order_id = upstream_id
        order.forward_state = states.ACCEPTED
        session.add(_call(attempt, "accepted", f"upstream order {upstream_id}"))


def _refused(db: Database, attempt: Attempt, refused: ApiError) -> None:
    """The upstream answered with an error: it surely has no order."""
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
            order.forward_state = states.QUEUED
        elif refused.code in PROVIDER_ERRORS:
            order.forward_skip = [*(order.forward_skip or []), attempt.access.id]
            order.forward_state = states.QUEUED
        else:
            _reject(session, order, f"{attempt.access.name} refused: {refused.message}")
            return
    # Queued again: try the next provider now; choosing it raises RetryLater
    # when only paused providers are left, and cancels when none is.
    forward_order(db, {"order_id": attempt.order_id})


def _outcome_unknown(db: Database, attempt: Attempt, error: Exception) -> None:
    if attempt.access.honours_request_id:
        _record(db, attempt, "unknown", str(error), state=states.SENDING)
        raise RetryLater("outcome unknown; resending with the same request_id")
    with db.write() as session:
        order = lock_order(session, attempt.order_id)
        session.add(_call(attempt, "unknown", str(error)))
        _mark_reconcile(session, order, str(error))


def _mark_reconcile(session: Session, order: Order, why: str) -> None:
    order.forward_state = states.RECONCILE
    enqueue(session, RECONCILE_JOB, {"order_id": order.id}, dedupe_key=f"reconcile:{order.id}")
    log.warning("order %s needs reconciliation: %s", order.id, why)


def _reject(session: Session, order: Order, why: str) -> None:
    order.forward_state = states.REJECTED
    change_order_status(session, order, status=CANCELED, actor="forwarding", note=why[:500])


def _record(db: Database, attempt: Attempt, outcome: str, detail: str, *, state: str) -> None:
    with db.write() as session:
        order = lock_order(session, attempt.order_id)
        order.forward_state = state
        session.add(_call(attempt, outcome, detail))


def _call(attempt: Attempt, outcome: str, detail: str) -> ProviderOrderRecord:
    return ProviderOrderRecord(
        provider_id=attempt.access.id,
        order_id=attempt.order_id,
        action="add",
        outcome=outcome[:32],
        detail=detail[:2000],
    )


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
    if order.kind == "subscription":
        params.pop("link", None)
    return params
