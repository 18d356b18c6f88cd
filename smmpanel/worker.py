"""The worker's composition: which job kinds exist and which schedules run them."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from smmpanel.accounts.reset_mail import email_failed, send_email_job
from smmpanel.config import Settings, current_settings
from smmpanel.db import Database
from smmpanel.jobs.kinds import JobKind
from smmpanel.jobs.schedules import ScheduleSpec, ensure_schedules
from smmpanel.jobs.worker import FailureHook, Handler, Worker
from smmpanel.orders.dripfeed import dripfeed_runs
from smmpanel.orders.subscriptions import subscription_expiry
from smmpanel.orders.webhooks import deliver_webhook
from smmpanel.payments.service import deposit_check_job
from smmpanel.providers.catalog_sync import sync_prices_job
from smmpanel.providers.forwarding import forward_failed, forward_order
from smmpanel.providers.reconcile import reconcile_order_job, reconcile_orders
from smmpanel.providers.requests_relay import forward_cancel, forward_refill
from smmpanel.providers.status_sync import sync_statuses
from smmpanel.web.links import reset_link


def _reconcile_all(db: Database, _payload: dict[str, Any]) -> None:
    reconcile_orders(db)


def handlers(settings: Settings | None = None) -> dict[str, Handler]:
    """The handler of each JobKind (exactly one each: tests/jobs/test_kinds.py)."""
    settings = settings or current_settings()
    wait_alert_after = timedelta(minutes=settings.order_wait_alert_minutes)
    return {
        JobKind.FORWARD_ORDER: partial(forward_order, wait_alert_after=wait_alert_after),
        JobKind.RECONCILE_ORDER: reconcile_order_job,
        JobKind.STATUS_SYNC: sync_statuses,
        JobKind.PRICE_SYNC: sync_prices_job,
        JobKind.FORWARD_REFILL: forward_refill,
        JobKind.FORWARD_CANCEL: forward_cancel,
        JobKind.RECONCILE_ALL: _reconcile_all,
        JobKind.WEBHOOK: deliver_webhook,
        JobKind.DRIPFEED_RUNS: dripfeed_runs,
        JobKind.SUBSCRIPTION_EXPIRY: subscription_expiry,
        JobKind.EMAIL: partial(
            send_email_job, settings=settings, link_of=partial(reset_link, settings)
        ),
        JobKind.DEPOSIT_CHECK: partial(deposit_check_job, settings=settings),
    }


def failure_hooks() -> dict[str, FailureHook]:
    """What a job that gave up leaves behind: a forward, an order the owner sees;
    an e-mail, an owner alert."""
    return {JobKind.FORWARD_ORDER: forward_failed, JobKind.EMAIL: email_failed}


def schedules(settings: Settings) -> list[ScheduleSpec]:
    """The periodic jobs, at the intervals of the settings (SMMPANEL_*_SECONDS)."""
    return [
        ScheduleSpec("status_sync", JobKind.STATUS_SYNC, settings.status_sync_seconds),
        ScheduleSpec("reconcile", JobKind.RECONCILE_ALL, settings.reconcile_seconds),
        ScheduleSpec("price_sync", JobKind.PRICE_SYNC, settings.price_sync_seconds),
        ScheduleSpec("dripfeed", JobKind.DRIPFEED_RUNS, settings.dripfeed_seconds),
        ScheduleSpec(
            "subscription_expiry", JobKind.SUBSCRIPTION_EXPIRY, settings.subscription_expiry_seconds
        ),
        ScheduleSpec("deposit_check", JobKind.DEPOSIT_CHECK, settings.deposit_check_seconds),
    ]


def build_worker(
    db: Database,
    *,
    name: str | None = None,
    poll_interval: float = 0.5,
    settings: Settings | None = None,
) -> Worker:
    """A worker with every handler; its schedules are created or updated.  Its
    intervals and job lease come from `settings` (default: the current ones)."""
    settings = settings or current_settings()
    ensure_schedules(db, schedules(settings))
    lease = timedelta(seconds=settings.job_lease_seconds)
    worker = Worker(
        db,
        handlers(settings),
        poll_interval=poll_interval,
        lease=lease,
        failure_hooks=failure_hooks(),
    )
    if name:
        worker.name = name
    return worker
