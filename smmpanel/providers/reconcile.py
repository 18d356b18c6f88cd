"""Reconciliation: orders whose upstream `add` has an unknown outcome.

After a timeout or an unreadable answer the upstream may or may not have the
order.  Nothing is resent or refunded until that is known:

1. an upstream order id we already know is looked up with `status`;
2. an upstream that honours request_id (another smmpanel) is simply sent the
   same request again: it answers with the first order if it has one;
3. an upstream with an order lookup (dialect "lookup_url", which the provider
   simulator offers) is searched by service and link: a match is adopted, and
   no match means it surely has none: the order is canceled and refunded.
   The look-up is a POST with the key in its body, through the outbound
   guard, and only to the provider's own scheme, host and port;
4. otherwise the order waits for the owner (`smmpanel providers reconcile
   --adopt ORDER=UPSTREAM` or `--cancel ORDER`), with an alert.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import record_audit, subject
from smmpanel.catalog.models import ServiceSource
from smmpanel.db import Database
from smmpanel.jobs.kinds import JobKind
from smmpanel.jobs.queue import enqueue
from smmpanel.netguard import guarded_client, same_origin
from smmpanel.orders.errors import InvalidStatusChange
from smmpanel.orders.forwarding_states import ForwardState, move_forward_state
from smmpanel.orders.fulfilment import forward_key
from smmpanel.orders.lifecycle import change_order_status, lock_order
from smmpanel.orders.models import ACTIVE_STATUSES, CANCELED, Order
from smmpanel.orders.order_alerts import (
    RECONCILE_ALERT,
    order_alert_subject,
    resolve_order_alerts,
)
from smmpanel.panel.alerts import raise_alert
from smmpanel.providers.gateway import ProviderAccess, open_upstream
from smmpanel.providers.models import Provider
from smmpanel.providers.upstream import UpstreamError

log = logging.getLogger("smmpanel.reconcile")

LOOKUP_TIMEOUT = 20.0
ACTOR = "reconcile"


class LookupRefused(Exception):
    """The look-up URL is not on the provider's own host: the key is not sent."""


@dataclass
class ReconcileReport:
    adopted: list[int] = field(default_factory=list)
    canceled: list[int] = field(default_factory=list)
    resent: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)


def reconcile_order_job(db: Database, payload: dict[str, Any]) -> None:
    """Job handler for one order."""
    reconcile_one(db, int(payload["order_id"]), ReconcileReport())


def reconcile_orders(db: Database, *, provider_name: str | None = None) -> ReconcileReport:
    """Try to resolve every order marked for reconciliation (CLI and schedule)."""
    query = select(Order.id).where(
        Order.forward_state == ForwardState.RECONCILE, Order.status.in_(ACTIVE_STATUSES)
    )
    if provider_name is not None:
        query = query.join(Provider, Provider.id == Order.provider_id).where(
            Provider.name == provider_name
        )
    with db.read() as session:
        order_ids = list(session.scalars(query.order_by(Order.id)))
    report = ReconcileReport()
    for order_id in order_ids:
        reconcile_one(db, order_id, report)
    return report


def reconcile_one(db: Database, order_id: int, report: ReconcileReport) -> None:
    with db.read() as session:
        order = session.get(Order, order_id)
        if order is None or order.forward_state != ForwardState.RECONCILE:
            return
        provider = session.get(Provider, order.provider_id) if order.provider_id else None
        source = session.execute(
            select(ServiceSource).where(
                ServiceSource.service_id == order.service_id,
                ServiceSource.provider_id == order.provider_id,
            )
        ).scalar_one_or_none()
        known_id, link = order.provider_order_id, order.link
    if provider is None:
        _wait_for_owner(db, order_id, "its provider is gone", report)
        return
    access = ProviderAccess.of(provider)
    if known_id:
        _check_known(db, access, order_id, known_id, report)
    elif access.honours_request_id:
        _resend(db, order_id, report)
    elif access.dialect.get("lookup_url") and source is not None:
        _search(db, access, order_id, source.upstream_service_id, link, report)
    else:
        _wait_for_owner(db, order_id, "the upstream offers no way to look the order up", report)


def _check_known(
    db: Database, access: ProviderAccess, order_id: int, upstream_id: str, report: ReconcileReport
) -> None:
    try:
        with open_upstream(access) as upstream:
            result = upstream.status(int(upstream_id))
    except UpstreamError as exc:
        log.warning("order %s: status look-up failed: %s", order_id, exc)
        report.waiting.append(order_id)
        return
    adopt_upstream_order(db, order_id=order_id, upstream_order_id=str(result.order_id), actor=None)
    report.adopted.append(order_id)


def _resend(db: Database, order_id: int, report: ReconcileReport) -> None:
    """Same request_id again: the upstream returns its first order if it has one."""
    with db.write() as session:
        order = lock_order(session, order_id)
        move_forward_state(
            session, order=order, to=ForwardState.SENDING, actor=ACTOR, reason="resent"
        )
        enqueue(
            session, JobKind.FORWARD_ORDER, {"order_id": order_id}, dedupe_key=forward_key(order_id)
        )
    report.resent.append(order_id)


def _search(
    db: Database,
    access: ProviderAccess,
    order_id: int,
    upstream_service: str,
    link: str,
    report: ReconcileReport,
) -> None:
    try:
        candidates = lookup_upstream_orders(access, service=upstream_service, link=link)
    except LookupRefused as exc:
        _wait_for_owner(db, order_id, str(exc), report)
        return
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("order %s: upstream look-up failed: %s", order_id, exc)
        report.waiting.append(order_id)
        return
    with db.read() as session:
        taken = set(
            session.scalars(
                select(Order.provider_order_id).where(
                    Order.provider_id == access.id, Order.provider_order_id.is_not(None)
                )
            )
        )
    free = [c for c in candidates if c not in taken]
    if free:
        adopt_upstream_order(db, order_id=order_id, upstream_order_id=free[0], actor=None)
        report.adopted.append(order_id)
    else:
        cancel_unforwarded_order(
            db, order_id=order_id, why="the upstream has no such order", actor=None
        )
        report.canceled.append(order_id)


def lookup_upstream_orders(access: ProviderAccess, *, service: str, link: str) -> list[str]:
    """Upstream order ids for (service, link), oldest first, from the lookup URL.

    The key goes in a POST body (never in a URL, which logs and proxies keep),
    and only to the provider's own scheme, host and port: a look-up URL stored
    elsewhere is refused before anything is sent."""
    url = str(access.dialect["lookup_url"])
    if not same_origin(url, access.api_url):
        raise LookupRefused(
            "its provider's look-up URL is not on the provider's own host, so the "
            "provider's key is not sent there; fix the provider's lookup_url"
        )
    with guarded_client(timeout=LOOKUP_TIMEOUT) as http:
        response = http.post(url, data={"key": access.api_key, "service": service, "link": link})
    response.raise_for_status()
    data = response.json()
    rows = data.get("orders", []) if isinstance(data, dict) else data
    found = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        if str(row.get("service")) == str(service) and str(row.get("link")) == link:
            found.append(str(row.get("id", row.get("order"))))
    return found


def adopt_upstream_order(
    db: Database, *, order_id: int, upstream_order_id: str, actor: Actor | None
) -> None:
    """Record that the upstream has this order under `upstream_order_id`; `actor`
    None: reconciliation found it by itself (audited are people's decisions)."""
    with db.write() as session:
        order = lock_order(session, order_id)
        if actor is not None and order.forward_state == ForwardState.ACCEPTED:
            # Staying accepted is no move, so the state machine would let a
            # second adoption (a form posted twice) overwrite the known id.
            raise InvalidStatusChange(
                f"order {order_id} is accepted at its provider already "
                f"(upstream order {order.provider_order_id})"
            )
        if actor is not None:
            record_audit(
                session,
                actor=actor,
                action=AuditAction.ORDER_ADOPTED_BY_HAND,
                subject=subject("order", order_id),
                before={"forward_state": order.forward_state},
                after={
                    "forward_state": ForwardState.ACCEPTED,
                    "upstream_order": str(upstream_order_id),
                },
            )
        move_forward_state(
            session,
            order=order,
            to=ForwardState.ACCEPTED,
            actor=ACTOR if actor is None else str(actor),
            reason=f"adopted upstream order {upstream_order_id}",
        )
        order.provider_order_id = str(upstream_order_id)
        resolve_order_alerts(session, order_id)  # the provider has it: nothing to decide


def cancel_unforwarded_order(db: Database, *, order_id: int, why: str, actor: Actor | None) -> None:
    """The upstream surely has no order: cancel and refund (once); `actor` None:
    reconciliation found so by itself."""
    with db.write() as session:
        order = lock_order(session, order_id)
        before = {"forward_state": order.forward_state, "status": order.status}
        move_forward_state(
            session,
            order=order,
            to=ForwardState.REJECTED,
            actor=ACTOR if actor is None else str(actor),
            reason=why,
        )
        try:
            change_order_status(session, order, status=CANCELED, actor="reconcile", note=why)
        except InvalidStatusChange:
            pass  # already final
        if actor is not None:
            record_audit(
                session,
                actor=actor,
                action=AuditAction.ORDER_CANCELED_BY_HAND,
                subject=subject("order", order_id),
                before=before,
                after={"forward_state": order.forward_state, "status": order.status, "why": why},
            )


def mark_for_reconciliation(db: Database, *, order_id: int, actor: Actor) -> None:
    """The owner doubts that a failed order never reached its provider: it is
    looked up upstream (adopted, or canceled and refunded when surely absent)
    before anything is resent or refunded.  Refused unless the order is active
    and its forwarding failed."""
    with db.write() as session:
        order = lock_order(session, order_id)
        if order.status not in ACTIVE_STATUSES:
            raise InvalidStatusChange(f"order {order_id} is {order.status}: nothing to reconcile")
        if order.forward_state != ForwardState.FAILED:
            raise InvalidStatusChange(
                f"order {order_id} is {order.forward_state or 'not forwarded'}: only an order "
                "whose forwarding failed can be marked for reconciliation"
            )
        if order.provider_id is None:
            # No provider was ever chosen for it, so none can have it.
            raise InvalidStatusChange(
                f"order {order_id} was never sent to a provider; resend or cancel it"
            )
        record_audit(
            session,
            actor=actor,
            action=AuditAction.ORDER_MARKED_FOR_RECONCILIATION,
            subject=subject("order", order_id),
            before={"forward_state": order.forward_state},
            after={"forward_state": ForwardState.RECONCILE},
        )
        move_forward_state(
            session,
            order=order,
            to=ForwardState.RECONCILE,
            actor=str(actor),
            reason="marked for reconciliation",
        )
        order.waiting_since = None
        enqueue(
            session,
            JobKind.RECONCILE_ORDER,
            {"order_id": order_id},
            dedupe_key=f"reconcile:{order_id}",
        )


def _wait_for_owner(db: Database, order_id: int, why: str, report: ReconcileReport) -> None:
    with db.write() as session:
        raise_alert(
            session,
            kind=RECONCILE_ALERT,
            subject=order_alert_subject(order_id),
            message=f"Order {order_id} needs manual reconciliation: {why}. Check the "
            "upstream, then `smmpanel providers reconcile --adopt "
            f"{order_id}=UPSTREAM_ID` or `--cancel {order_id}`.",
        )
    report.waiting.append(order_id)
