"""What the database holds, read at scrape time: orders by status, jobs by
kind, deposits by state, recent provider calls, customer webhooks that fail,
the workers' heartbeats.

Each query reads an index, not a table (measured on 200,000 orders in
bench/bench_metrics.py), and the answer is kept for `ttl` seconds: scrapes
from several Prometheus servers, or a scrape storm, cost one read per process
per `ttl`.  A database that cannot be read leaves these metrics out and sets
smmpanel_metrics_db_up to 0; the process's own metrics still answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, case, func, select

from smmpanel.db import Database
from smmpanel.jobs.heartbeat import last_heartbeat_at, live_workers_since
from smmpanel.jobs.kinds import JobKind
from smmpanel.jobs.models import FAILED, QUEUED, RUNNING, Job
from smmpanel.orders.models import ORDER_STATUSES, Order
from smmpanel.payments.models import Deposit
from smmpanel.payments.states import DepositState
from smmpanel.providers.models import Provider, ProviderOrderRecord
from smmpanel.timeutil import as_utc, utcnow

log = logging.getLogger("smmpanel.metrics")

DEFAULT_TTL = 5.0
# Provider calls are shown over this window (gauges: their count and latency).
PROVIDER_WINDOW = timedelta(minutes=5)
# The outcomes of provider calls that are not a provider's own words (those,
# its refusals, are counted as "refused": their text would be a label per reason).
PROVIDER_OUTCOMES = ("accepted", "unreachable", "unknown")

# A metric's values by their labels' values.
Values = dict[tuple[str, ...], float]


class DatabaseCollector(Collector):
    def __init__(self, db: Database, *, stale_after: float, ttl: float = DEFAULT_TTL) -> None:
        self.db = db
        self.stale_after = timedelta(seconds=stale_after)
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cached: list[Metric] = []
        self._until = 0.0

    def describe(self) -> list[Metric]:
        # Nothing at registration: a description would cost a database read.
        return []

    def collect(self) -> Iterator[Metric]:
        with self._lock:  # one read at a time, the others wait for its answer
            if time.monotonic() >= self._until:
                self._cached = self._read()
                self._until = time.monotonic() + self.ttl
            yield from self._cached

    def _read(self) -> list[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily("smmpanel_metrics_db_up", "1 when the database could be read")
        try:
            with self.db.read_core() as conn:
                families = read_families(conn, utcnow(), self.stale_after)
            up.add_metric([], 1)
        except Exception as exc:
            log.warning("metrics: the database could not be read: %s", type(exc).__name__)
            families = []
            up.add_metric([], 0)
        took = GaugeMetricFamily(
            "smmpanel_metrics_db_read_seconds", "How long the last read of these metrics took"
        )
        took.add_metric([], time.perf_counter() - started)
        return [*families, up, took]


def read_families(conn: Connection, now: datetime, stale_after: timedelta) -> list[Metric]:
    return [
        _orders(conn),
        *_jobs(conn, now),
        _customer_webhooks(conn),
        _deposits(conn),
        *_provider_calls(conn, now),
        *_workers(conn, now, stale_after),
    ]


def _gauge(name: str, text: str, labels: Sequence[str], values: Values) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, text, labels=list(labels))
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


def _orders(conn: Connection) -> Metric:
    counts: Values = {(status,): 0.0 for status in ORDER_STATUSES}
    for status, count in conn.execute(select(Order.status, func.count()).group_by(Order.status)):
        counts[(status,)] = count
    return _gauge("smmpanel_orders", "Orders by status", ["status"], counts)


def _jobs(conn: Connection, now: datetime) -> list[Metric]:
    kinds = [kind.value for kind in JobKind]
    counts: Values = {(kind, state): 0.0 for kind in kinds for state in (QUEUED, RUNNING, FAILED)}
    by_state = conn.execute(
        select(Job.kind, Job.status, func.count())
        .where(Job.status.in_((QUEUED, RUNNING, FAILED)))
        .group_by(Job.kind, Job.status)
    )
    for kind, status, count in by_state:
        counts[(kind, status)] = count
    due: Values = {(kind,): 0.0 for kind in kinds}
    oldest: Values = {(kind,): 0.0 for kind in kinds}
    waiting = conn.execute(
        select(Job.kind, func.count(), func.min(Job.run_at))
        .where(Job.status == QUEUED, Job.run_at <= now)
        .group_by(Job.kind)
    )
    for kind, count, first in waiting:
        due[(kind,)] = count
        oldest[(kind,)] = max(0.0, (now - as_utc(first)).total_seconds())
    return [
        _gauge(
            "smmpanel_jobs",
            "Jobs by kind and state: queued (due now or later), running, failed (gave up)",
            ["kind", "state"],
            counts,
        ),
        _gauge("smmpanel_jobs_due", "Queued jobs whose time has come, by kind", ["kind"], due),
        _gauge(
            "smmpanel_jobs_oldest_due_seconds",
            "How long the oldest due job of each kind has waited (0: none waits)",
            ["kind"],
            oldest,
        ),
    ]


def _customer_webhooks(conn: Connection) -> Metric:
    """Order-status webhooks to customers' URLs that failed: still being retried
    (a failed attempt behind them), or given up."""
    retrying = conn.scalar(
        select(func.count())
        .select_from(Job)
        .where(Job.status == QUEUED, Job.kind == JobKind.WEBHOOK.value, Job.attempts > 0)
    )
    failed = conn.scalar(
        select(func.count())
        .select_from(Job)
        .where(Job.status == FAILED, Job.kind == JobKind.WEBHOOK.value)
    )
    return _gauge(
        "smmpanel_customer_webhook_failures",
        "Customers' webhooks whose delivery failed: retrying, or failed for good",
        ["state"],
        {("retrying",): retrying or 0, ("failed",): failed or 0},
    )


def _deposits(conn: Connection) -> Metric:
    counts: Values = {(state.value,): 0.0 for state in DepositState}
    for state, count in conn.execute(select(Deposit.state, func.count()).group_by(Deposit.state)):
        counts[(state,)] = count
    return _gauge("smmpanel_deposits", "Deposits by state", ["state"], counts)


def _provider_calls(conn: Connection, now: datetime) -> list[Metric]:
    outcome = case(
        *((ProviderOrderRecord.outcome == known, known) for known in PROVIDER_OUTCOMES),
        else_="refused",
    ).label("outcome")
    rows = conn.execute(
        select(
            Provider.name,
            outcome,
            func.count(),
            func.count(ProviderOrderRecord.elapsed_ms),
            func.sum(ProviderOrderRecord.elapsed_ms),
            func.max(ProviderOrderRecord.elapsed_ms),
        )
        .join(Provider, Provider.id == ProviderOrderRecord.provider_id)
        .where(ProviderOrderRecord.created_at >= now - PROVIDER_WINDOW)
        .group_by(Provider.name, outcome)
    )
    calls: Values = {}
    timed: dict[str, tuple[int, int, int]] = {}
    for name, result, count, measured, total_ms, max_ms in rows:
        calls[(name, result)] = count
        had = timed.get(name, (0, 0, 0))
        timed[name] = (had[0] + measured, had[1] + (total_ms or 0), max(had[2], max_ms or 0))
    average: Values = {(name,): t[1] / t[0] / 1000 for name, t in timed.items() if t[0]}
    slowest: Values = {(name,): t[2] / 1000 for name, t in timed.items() if t[0]}
    window = f"the last {int(PROVIDER_WINDOW.total_seconds() // 60)} minutes"
    return [
        _gauge(
            "smmpanel_provider_calls_recent",
            f"Orders sent to providers in {window}, by provider and outcome "
            "(refused: the provider said no)",
            ["provider", "outcome"],
            calls,
        ),
        _gauge(
            "smmpanel_provider_call_seconds_avg",
            f"Average time of a provider's answer to an order, over {window}",
            ["provider"],
            average,
        ),
        _gauge(
            "smmpanel_provider_call_seconds_max",
            f"Slowest provider answer to an order over {window}",
            ["provider"],
            slowest,
        ),
    ]


def _workers(conn: Connection, now: datetime, stale_after: timedelta) -> list[Metric]:
    live = GaugeMetricFamily(
        "smmpanel_workers_alive", "Workers whose heartbeat is fresh (SMMPANEL_WORKER_STALE_SECONDS)"
    )
    live.add_metric([], live_workers_since(conn, now - stale_after))
    families: list[Metric] = [live]
    beat = last_heartbeat_at(conn)
    if beat is not None:  # absent, not a made-up age, when no worker ever ran
        age = GaugeMetricFamily(
            "smmpanel_worker_heartbeat_age_seconds", "Seconds since the freshest worker heartbeat"
        )
        age.add_metric([], max(0.0, (now - beat).total_seconds()))
        families.append(age)
    return families
