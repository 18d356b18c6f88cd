"""Syncing order statuses back from upstream providers.

One pass per provider covers every open forwarded order, longest-unchecked
first, in `status` calls of 100 ids: 10,000 open orders cost 100 calls, and
no order waits more than one pass.  Each batch is applied in one
transaction: an order whose answer repeats what it shows only gets its
checked-at stamp (most of a pass: bench/bench_status_sync.py); the changes
that move no money are applied together (orders.lifecycle.plain_change and
change_order_statuses); the rest go one by one through the same status
change (and exactly-once refunds) as the owner's updates.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from smmpanel.accounts.queries import lock_balances
from smmpanel.db import Database, retry_deadlocks
from smmpanel.orders.dripfeed import refresh_parent_of
from smmpanel.orders.errors import InvalidStatusChange
from smmpanel.orders.forwarding_states import ForwardState
from smmpanel.orders.lifecycle import (
    PlainChange,
    change_order_status,
    change_order_statuses,
    plain_change,
)
from smmpanel.orders.models import (
    ACTIVE_STATUSES,
    COMPLETED,
    KIND_SUBSCRIPTION,
    PARTIAL,
    Order,
)
from smmpanel.orders.posts import PROVISIONAL, is_provisional
from smmpanel.orders.requests import close_pending_cancels_of
from smmpanel.panel.alerts import raise_alert
from smmpanel.providers.gateway import ProviderAccess, open_upstream
from smmpanel.providers.models import Provider
from smmpanel.providers.requests_relay import sync_request_statuses
from smmpanel.providers.subscription_sync import record_subscription_posts, settle_from_upstream
from smmpanel.providers.upstream import UpstreamError, UpstreamOrderStatus
from smmpanel.timeutil import utcnow

log = logging.getLogger("smmpanel.status_sync")

BATCH = 100
STALE_AFTER = timedelta(hours=24)


@dataclass
class SyncReport:
    provider: str
    checked: int = 0
    changed: int = 0
    calls: int = 0
    errors: list[str] = field(default_factory=list)
    stale: int = 0
    requests_changed: int = 0


def sync_statuses(db: Database, payload: dict[str, Any]) -> None:
    """Job handler: one status sync pass of one provider (or of every provider)."""
    provider_id = payload.get("provider_id")
    for access in _providers(db, provider_id):
        report = sync_provider_statuses(db, access)
        log.info(
            "status sync %s: %d checked, %d changed, %d calls, %d stale",
            report.provider,
            report.checked,
            report.changed,
            report.calls,
            report.stale,
        )


def _providers(db: Database, provider_id: int | None) -> list[ProviderAccess]:
    query = select(Provider).order_by(Provider.id)
    if provider_id is not None:
        query = query.where(Provider.id == int(provider_id))
    with db.read() as session:
        return [ProviderAccess.of(p) for p in session.scalars(query)]


def open_forwarded_orders(db: Database, provider_id: int) -> list[tuple[int, str]]:
    """(local id, upstream id) of every open accepted order, least recently checked first."""
    query = (
        select(Order.id, Order.provider_order_id)
        .where(
            Order.provider_id == provider_id,
            Order.forward_state == ForwardState.ACCEPTED,
            Order.status.in_(ACTIVE_STATUSES),
        )
        # NULL (never checked) first on both databases.
        .order_by(Order.synced_at.is_not(None), Order.synced_at, Order.id)
    )
    with db.read() as session:
        return [(oid, str(uid)) for oid, uid in session.execute(query)]


def sync_provider_statuses(db: Database, access: ProviderAccess) -> SyncReport:
    report = SyncReport(access.name)
    orders = open_forwarded_orders(db, access.id)
    if orders:
        with open_upstream(access) as upstream:
            for start in range(0, len(orders), BATCH):
                batch = orders[start : start + BATCH]
                upstream_ids = [int(uid) for _, uid in batch if uid.isdigit()]
                try:
                    results = upstream.statuses(upstream_ids)
                except UpstreamError as exc:
                    report.errors.append(str(exc))
                    continue
                finally:
                    report.calls += 1
                report.checked += len(batch)
                report.changed += apply_upstream_statuses(
                    db, provider_name=access.name, batch=batch, results=results
                )
    report.stale = flag_stale_orders(db, access)
    report.requests_changed = sync_request_statuses(db, access)
    return report


def apply_upstream_statuses(
    db: Database,
    *,
    provider_name: str,
    batch: Sequence[tuple[int, str]],
    results: Sequence[UpstreamOrderStatus],
) -> int:
    """Apply one batch of upstream answers in one transaction; returns how many
    orders changed.  A batch that lost a deadlock to another (an add batch
    locks several balances too) runs again."""
    return retry_deadlocks(
        lambda: _apply_batch(db, provider_name=provider_name, batch=batch, results=results)
    )


def _apply_batch(
    db: Database,
    *,
    provider_name: str,
    batch: Sequence[tuple[int, str]],
    results: Sequence[UpstreamOrderStatus],
) -> int:
    by_upstream = {str(r.order_id): r for r in results}
    ids = [oid for oid, _ in batch]
    actor = f"provider:{provider_name}"
    now = utcnow()
    with db.write() as session:
        # Lock the batch's rows and read the few columns that decide a change.
        # Most answers repeat what the order shows: those orders only get their
        # checked-at stamp below.  Of the others, the changes that move no
        # money (a start count, remains, a status on the way, Completed) are
        # applied together in a few statements; only the rest (refunds,
        # subscriptions, drip-feed runs, refused values) load their
        # order and go through the status change one by one.
        upstream_of = dict(batch)
        rows = {row.id: row for row in session.execute(_CURRENT.where(Order.id.in_(ids)))}
        moving: dict[int, UpstreamOrderStatus] = {}
        for order_id, row in rows.items():
            result = by_upstream.get(upstream_of[order_id])
            if result is None or result.error is not None or result.status is None:
                continue
            if not _repeats(row, result):
                moving[order_id] = result
        plain: list[PlainChange] = []
        for order_id, result in list(moving.items()):
            change = _plain(rows[order_id], result)
            if change is not None:
                plain.append(change)
                del moving[order_id]
        changed, finished = _apply_one_by_one(session, ids, moving, rows, actor=actor)
        change_order_statuses(session, plain, actor=actor, now=now, synced_at=now)
        finished.update({c.order_id: c.status for c in plain if c.status == COMPLETED})
        close_pending_cancels_of(session, finished)
        stamped = {c.order_id for c in plain}  # in their change's UPDATE
        if len(stamped) < len(ids):
            unstamped = [oid for oid in ids if oid not in stamped]
            session.execute(update(Order).where(Order.id.in_(unstamped)).values(synced_at=now))
    return changed + len(plain)


def _plain(row: Any, result: UpstreamOrderStatus) -> PlainChange | None:
    """The answer's change to the order, when it moves no money (plain_change)."""
    status, remains = _reported(row, result)
    return plain_change(row, status=status, start_count=result.start_count, remains=remains)


def _apply_one_by_one(
    session: Session,
    ids: Sequence[int],
    moving: dict[int, UpstreamOrderStatus],
    rows: dict[int, Any],
    *,
    actor: str,
) -> tuple[int, dict[int, str]]:
    """Run each of these orders through the status change; returns how many
    changed and the final status of those that ended."""
    if not moving:
        return 0, {}
    # The balances refunds may change, in the one order every batch takes them
    # (lock_balances says why), before any of them changes.
    lock_balances(session, (rows[i].account_id for i in moving))
    orders = {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(list(moving))))}
    changed, finished = 0, {}
    for order_id in (oid for oid in ids if oid in orders):  # in the batch's order
        order = orders[order_id]
        if apply_upstream_status(session, order, moving[order_id], actor=actor):
            changed += 1
            if order.status not in ACTIVE_STATUSES:
                finished[order_id] = order.status
    return changed, finished


# What decides whether an upstream answer changes an order, and whether the
# change is plain; the rows are locked in one order by every multi-row writer.
_CURRENT = (
    select(
        Order.id,
        Order.account_id,
        Order.status,
        Order.remains,
        Order.start_count,
        Order.total_quantity,
        Order.kind,
        Order.params,
        Order.parent_id,
        Order.charge,
        Order.refunded,
        Order.currency,
    )
    .order_by(Order.id)
    .with_for_update()
)


def _repeats(row: Any, result: UpstreamOrderStatus) -> bool:
    """True when applying `result` to the order in `row` would change nothing
    (apply_upstream_status would return False and write nothing); False when
    it may change something.  Subscriptions and provisional posts always take
    the full path: their hooks look further than these columns."""
    status = result.status
    if status is None or row.kind == KIND_SUBSCRIPTION or (row.params or {}).get(PROVISIONAL):
        return False
    remains = _remains(row, status, result.remains)
    if status == PARTIAL and remains == 0:
        status = COMPLETED
    return (
        status == row.status
        and (remains is None or remains == row.remains)
        and (result.start_count is None or result.start_count == row.start_count)
    )


def apply_upstream_status(
    session: Session, order: Order, result: UpstreamOrderStatus, *, actor: str
) -> bool:
    """Move one order to what the upstream reports (inside the caller's transaction)."""
    # A subscription post charged at max is settled first, so that its remains
    # and any refund below count against the units it really had.
    settled = is_provisional(order) and settle_from_upstream(session, order, result, actor=actor)
    status, remains = _reported(order, result)
    try:
        changed = change_order_status(
            session,
            order,
            status=status,
            start_count=result.start_count,
            remains=remains,
            actor=actor,
        )
    except InvalidStatusChange as exc:
        log.warning("order %s: upstream status %s not applied: %s", order.id, status, exc)
        return bool(settled)
    changed = changed or bool(settled)
    if changed:
        order.stale = False
    # Hooks: a subscription's new posts become charged child orders; a changed
    # drip-feed run refreshes its parent.
    if order.kind == KIND_SUBSCRIPTION:
        changed = record_subscription_posts(session, order, result, actor=actor) > 0 or changed
    elif changed and order.parent_id is not None:
        refresh_parent_of(session, order, actor=actor)
    return changed


def _reported(order: Any, result: UpstreamOrderStatus) -> tuple[str, int | None]:
    """The status and remains the upstream's answer moves an order to (no
    status: the order's own); a Partial with nothing left is Completed."""
    status = result.status if result.status is not None else order.status
    remains = _remains(order, status, result.remains)
    if status == PARTIAL and remains == 0:
        status = COMPLETED
    return status, remains


def _remains(order: Any, status: str, reported: int | None) -> int | None:
    """Upstream `remains`, clamped to the order; unknown keeps the last known."""
    if status == COMPLETED:
        return 0
    if reported is None:
        return None if status != PARTIAL else order.remains
    return max(0, min(int(reported), order.total_quantity))


def flag_stale_orders(
    db: Database, access: ProviderAccess, *, after: timedelta = STALE_AFTER
) -> int:
    """Flag forwarded orders unchanged for too long, and alert the owner once per batch."""
    cutoff = utcnow() - after
    with db.write() as session:
        newly = session.execute(
            update(Order)
            .where(
                Order.provider_id == access.id,
                Order.status.in_(ACTIVE_STATUSES),
                Order.updated_at < cutoff,
                Order.stale.is_(False),
            )
            .values(stale=True)
        ).rowcount  # type: ignore[attr-defined]
        if newly:
            total = session.scalar(
                select(func.count(Order.id)).where(
                    Order.provider_id == access.id,
                    Order.stale.is_(True),
                    Order.status.in_(ACTIVE_STATUSES),
                )
            )
            raise_alert(
                session,
                kind="stale_orders",
                subject=access.name,
                message=f"{newly} more orders at {access.name} unchanged for over "
                f"{after}; {total} stale in all (smmpanel orders list --stale).",
            )
        return int(newly or 0)
