"""Every kind of job the panel queues, in one table.

A job is stored under its kind's string, and the worker runs the handler
registered for that kind (smmpanel/worker.py): both sides name the kind
through `JobKind`, so the two cannot drift apart, and a test checks that each
kind has exactly one handler.  The values are stored in the jobs table and in
schedules: never change one without a data migration.
"""

from __future__ import annotations

from enum import StrEnum


class JobKind(StrEnum):
    FORWARD_ORDER = "forward_order"  # send one order to its provider
    RECONCILE_ORDER = "reconcile_order"  # find out whether a provider got an order
    RECONCILE_ALL = "reconcile_all"  # the same for every order that needs it (scheduled)
    FORWARD_REFILL = "forward_refill"  # send one refill request to the order's provider
    FORWARD_CANCEL = "forward_cancel"  # send one cancel request to the order's provider
    STATUS_SYNC = "status_sync"  # read the statuses of forwarded orders (scheduled)
    PRICE_SYNC = "price_sync"  # read the providers' catalogues and prices (scheduled)
    DRIPFEED_RUNS = "dripfeed_runs"  # start the drip-feed runs that are due
    SUBSCRIPTION_EXPIRY = "subscription_expiry"  # stop expired subscriptions (scheduled)
    WEBHOOK = "webhook"  # deliver one webhook
    EMAIL = "email"  # send one e-mail to a customer (a password reset link)
    DEPOSIT_CHECK = "deposit_check"  # ask gateways about deposits left pending (scheduled)
