"""Refills and cancels of provider-backed orders: forwarded upstream by the
worker, their statuses synced back with batched look-ups.

A cancel is completed only when the upstream confirms it by the order itself
ending Canceled or Partial (see orders.requests.close_pending_cancels); an upstream
refusal rejects the local request.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from smmpanel.db import Database
from smmpanel.jobs.errors import RetryLater
from smmpanel.orders.forwarding_states import ForwardState
from smmpanel.orders.models import (
    REFILL_OPEN,
    REQUEST_IN_PROGRESS,
    REQUEST_PENDING,
    REQUEST_REJECTED,
    Cancel,
    Order,
    Refill,
)
from smmpanel.providers.gateway import ProviderAccess, open_upstream
from smmpanel.providers.models import Provider
from smmpanel.providers.upstream import UpstreamError, UpstreamRefused, UpstreamUnreachable
from smmpanel.timeutil import utcnow

log = logging.getLogger("smmpanel.requests_relay")

WAIT_FOR_ORDER_SECONDS = 60.0
BATCH = 100


def forward_refill(db: Database, payload: dict[str, Any]) -> None:
    """Job handler: send one refill request upstream."""
    target = _target(db, Refill, int(payload["refill_id"]))
    if target is None:
        return
    access, upstream_order = target
    try:
        with open_upstream(access) as upstream:
            result = upstream.refill(int(upstream_order))
    except UpstreamRefused as refused:
        _finish(db, Refill, int(payload["refill_id"]), REQUEST_REJECTED, refused.message)
        return
    except UpstreamUnreachable as exc:
        raise _later(f"refill not forwarded: {exc}", exc) from None
    if result.error is not None or result.request_id is None:
        message = result.error if result.error else "no refill id"
        _finish(db, Refill, int(payload["refill_id"]), REQUEST_REJECTED, message)
        return
    _accepted(db, Refill, int(payload["refill_id"]), str(result.request_id), REQUEST_IN_PROGRESS)


def forward_cancel(db: Database, payload: dict[str, Any]) -> None:
    """Job handler: send one cancel request upstream."""
    cancel_id = int(payload["cancel_id"])
    target = _target(db, Cancel, cancel_id)
    if target is None:
        return
    access, upstream_order = target
    try:
        with open_upstream(access) as upstream:
            [result] = upstream.cancel([int(upstream_order)])
    except UpstreamRefused as refused:
        _finish(db, Cancel, cancel_id, REQUEST_REJECTED, refused.message)
        return
    except UpstreamUnreachable as exc:
        raise _later(f"cancel not forwarded: {exc}", exc) from None
    if result.error is not None or result.request_id is None:
        message = result.error if result.error else "no cancel id"
        _finish(db, Cancel, cancel_id, REQUEST_REJECTED, message)
        return
    _accepted(db, Cancel, cancel_id, str(result.request_id), REQUEST_PENDING)


def _later(why: str, error: UpstreamUnreachable) -> RetryLater:
    """Try again later; a provider that could not be reached at all is waited
    for as long as it takes (the attempt is not counted)."""
    return RetryLater(why, waiting=error.nothing_sent)


def _target(
    db: Database, model: type[Refill] | type[Cancel], request_id: int
) -> tuple[ProviderAccess, str] | None:
    with db.read() as session:
        request: Any = session.get(model, request_id)
        if request is None or request.forward_state != ForwardState.QUEUED:
            return None
        if request.status not in (*REFILL_OPEN, REQUEST_PENDING):
            return None
        order = session.get(Order, request.order_id)
        assert order is not None
        if order.forward_state in (
            ForwardState.QUEUED,
            ForwardState.SENDING,
            ForwardState.RECONCILE,
        ):
            # The order waits (e.g. on a paused provider): so does its request,
            # as long as that takes.
            raise RetryLater(
                "the order is not at its provider yet", delay=WAIT_FOR_ORDER_SECONDS, waiting=True
            )
        provider = session.get(Provider, order.provider_id) if order.provider_id else None
        if provider is None or not order.provider_order_id:
            return None
        return ProviderAccess.of(provider), order.provider_order_id


def _accepted(
    db: Database, model: type[Refill] | type[Cancel], request_id: int, upstream_id: str, status: str
) -> None:
    with db.write() as session:
        request: Any = session.get(model, request_id, with_for_update=True)
        if request is None or request.forward_state != ForwardState.QUEUED:
            return
        request.provider_request_id = upstream_id
        request.forward_state = ForwardState.ACCEPTED
        if isinstance(request, Refill):
            request.status = status
        request.updated_at = utcnow()


def _finish(
    db: Database, model: type[Refill] | type[Cancel], request_id: int, status: str, why: str
) -> None:
    log.info("%s %s %s upstream: %s", model.__name__.lower(), request_id, status, why)
    with db.write() as session:
        request: Any = session.get(model, request_id, with_for_update=True)
        if request is None or request.status not in (*REFILL_OPEN, REQUEST_PENDING):
            return
        request.status, request.open_order_id = status, None
        request.forward_state = ForwardState.REJECTED
        request.updated_at = utcnow()


def sync_request_statuses(db: Database, access: ProviderAccess) -> int:
    """Refill and cancel statuses of one provider, in batches of 100; returns
    how many requests changed."""
    changed = 0
    refills = _open_forwarded(db, Refill, access.id)
    cancels = _open_forwarded(db, Cancel, access.id)
    if not refills and not cancels:
        return 0
    with open_upstream(access) as upstream:
        for start in range(0, len(refills), BATCH):
            batch = refills[start : start + BATCH]
            try:
                results = upstream.refill_statuses([int(u) for _, u in batch])
            except UpstreamError as exc:
                log.warning("refill status sync at %s failed: %s", access.name, exc)
                continue
            found = {str(r.request_id): r for r in results if r.status is not None}
            for refill_id, upstream_id in batch:
                result = found.get(upstream_id)
                if result is not None and result.status is not None:
                    changed += _set_refill_status(db, refill_id, result.status)
        for start in range(0, len(cancels), BATCH):
            batch = cancels[start : start + BATCH]
            try:
                cancel_results = upstream.cancel_statuses([int(u) for _, u in batch])
            except UpstreamError as exc:
                log.warning("cancel status sync at %s failed: %s", access.name, exc)
                continue
            rejected = {str(r.request_id) for r in cancel_results if r.status == REQUEST_REJECTED}
            for cancel_id, upstream_id in batch:
                if upstream_id in rejected:
                    _finish(db, Cancel, cancel_id, REQUEST_REJECTED, "the upstream rejected it")
                    changed += 1
    return changed


def _open_forwarded(
    db: Database, model: type[Refill] | type[Cancel], provider_id: int
) -> list[tuple[int, str]]:
    open_statuses = REFILL_OPEN if model is Refill else (REQUEST_PENDING,)
    query = (
        select(model.id, model.provider_request_id)
        .join(Order, Order.id == model.order_id)
        .where(
            Order.provider_id == provider_id,
            model.forward_state == ForwardState.ACCEPTED,
            model.status.in_(open_statuses),
        )
        .order_by(model.id)
    )
    with db.read() as session:
        return [(rid, str(uid)) for rid, uid in session.execute(query) if str(uid).isdigit()]


def _set_refill_status(db: Database, refill_id: int, status: str) -> int:
    with db.write() as session:
        refill = session.get(Refill, refill_id, with_for_update=True)
        if refill is None or refill.status == status or refill.status not in REFILL_OPEN:
            return 0
        refill.status = status
        refill.open_order_id = refill.order_id if status in REFILL_OPEN else None
        refill.updated_at = utcnow()
        return 1
