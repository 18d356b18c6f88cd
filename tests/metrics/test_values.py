"""/metrics after known calls: the API's counts and latencies, and what the
database holds (orders by status, jobs, deposits, provider calls, webhooks,
workers), on both databases, over a real HTTP server."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from smmpanel.api_v2.app import create_app
from smmpanel.db import Database
from smmpanel.jobs.heartbeat import record_heartbeat
from smmpanel.jobs.models import FAILED, RUNNING
from smmpanel.jobs.queue import enqueue
from smmpanel.orders.models import COMPLETED, Order
from smmpanel.payments.models import Deposit
from smmpanel.providers.models import Provider, ProviderOrderRecord
from smmpanel.server import serve_in_thread
from smmpanel.timeutil import utcnow
from tests.factories import make_customer, make_service
from tests.metrics.scrape import scrape


def _add(http: httpx.Client, key: str, service: int, link: str) -> dict[str, object]:
    data = {"key": key, "action": "add", "service": str(service), "link": link, "quantity": "100"}
    answer: dict[str, object] = http.post("/api/v2", data=data).json()
    return answer


def test_api_calls_are_counted_by_action_and_outcome(db: Database) -> None:
    service = make_service(db)
    alice = make_customer(db)
    with serve_in_thread(create_app(db)) as url, httpx.Client(base_url=url) as http:
        for n in range(5):
            assert "order" in _add(http, alice.key, service, f"https://x.com/{n}")
        for n in range(3):  # no such service: refused with an error body
            assert "error" in _add(http, alice.key, 9999, f"https://x.com/e{n}")
        assert "error" in _add(http, alice.key, service, "https://x.com/0")  # the link is busy
        assert (
            "balance" in http.post("/api/v2", data={"key": alice.key, "action": "balance"}).json()
        )
        http.post("/api/v2", data={"key": alice.key, "action": "no-such-action"})
        http.post("/api/v2", data={"key": alice.key, "action": "NoSuchOther"})
        assert http.put("/api/v2").status_code == 405
        assert http.post("/api/v2", content=b"x" * 2_000_000).status_code == 413
        samples = scrape(url)
    count = "smmpanel_api_requests_total"
    assert samples.value(count, action="add", outcome="ok") == 5
    assert samples.value(count, action="add", outcome="error") == 4
    assert samples.value(count, action="balance", outcome="ok") == 1
    # Unknown actions share one label value, whatever their names.
    assert samples.value(count, action="other", outcome="error") == 2
    assert samples.value(count, action="other", outcome="client_error") == 2
    latency = "smmpanel_api_request_duration_seconds"
    assert samples.value(f"{latency}_count", action="add") == 9
    assert samples.value(f"{latency}_bucket", action="add", le="+Inf") == 9
    assert 0 < samples.value(f"{latency}_sum", action="add") < 9 * 3
    # One call at a time: nine group commits of one order (or refusal) each.
    batch = "smmpanel_add_batch_size"
    assert samples.value(f"{batch}_count") == 9
    assert samples.value(f"{batch}_sum") == 9
    assert samples.value(f"{batch}_bucket", le="1.0") == 9
    # The orders placed, by status, from the database.
    assert samples.value("smmpanel_orders", status="Pending") == 5
    assert samples.value("smmpanel_orders", status="Completed") == 0
    assert samples["smmpanel_metrics_db_up"] == 1


def test_database_values(db: Database) -> None:
    service = make_service(db)
    alice = make_customer(db)
    with serve_in_thread(create_app(db)) as url, httpx.Client(base_url=url) as http:
        for n in range(4):
            _add(http, alice.key, service, f"https://x.com/{n}")
        now = utcnow()
        with db.write() as session:
            session.execute(update(Order).where(Order.id <= 3).values(status=COMPLETED))
            for _ in range(3):
                enqueue(session, "forward_order", {}, run_at=now - timedelta(seconds=90))
            enqueue(session, "forward_order", {}, run_at=now + timedelta(hours=1))
            enqueue(session, "webhook", {}, run_at=now - timedelta(seconds=10))
            session.flush()
            retrying = enqueue(session, "webhook", {}, run_at=now + timedelta(minutes=1))
            failed = enqueue(session, "webhook", {})
            running = enqueue(session, "status_sync", {})
            assert retrying and failed and running
            retrying.attempts = 2
            failed.status, failed.attempts = FAILED, 8
            running.status = RUNNING
            for n, state in enumerate(["created", "pending", "pending", "paid", "paid", "paid"]):
                session.add(_deposit(alice.id, n, state))
            up = Provider(name="upstream-a", api_url="https://a.example/api", api_key="x")
            session.add(up)
            session.flush()
            for outcome, ms in [("accepted", 100), ("accepted", 300), ("unreachable", 5000)]:
                session.add(_call(up.id, outcome, ms))
            session.add(_call(up.id, "Not enough funds on balance", 200))
            old = _call(up.id, "accepted", 9000)
            old.created_at = now - timedelta(hours=1)  # outside the window
            session.add(old)
        record_heartbeat(db, worker="w-1", started_at=now)
        samples = scrape(url)
    orders = "smmpanel_orders"
    assert samples.value(orders, status="Completed") == 3
    assert samples.value(orders, status="Pending") == 1
    jobs = "smmpanel_jobs"
    assert samples.value(jobs, kind="forward_order", state="queued") == 4
    assert samples.value(jobs, kind="webhook", state="queued") == 2
    assert samples.value(jobs, kind="webhook", state="failed") == 1
    assert samples.value(jobs, kind="status_sync", state="running") == 1
    assert samples.value(jobs, kind="email", state="queued") == 0
    assert samples.value("smmpanel_jobs_due", kind="forward_order") == 3
    assert samples.value("smmpanel_jobs_due", kind="webhook") == 1
    assert 90 <= samples.value("smmpanel_jobs_oldest_due_seconds", kind="forward_order") < 150
    assert samples.value("smmpanel_jobs_oldest_due_seconds", kind="email") == 0
    failures = "smmpanel_customer_webhook_failures"
    assert samples.value(failures, state="retrying") == 1
    assert samples.value(failures, state="failed") == 1
    deposits = "smmpanel_deposits"
    assert samples.value(deposits, state="created") == 1
    assert samples.value(deposits, state="pending") == 2
    assert samples.value(deposits, state="paid") == 3
    assert samples.value(deposits, state="reversed") == 0
    calls = "smmpanel_provider_calls_recent"
    assert samples.value(calls, provider="upstream-a", outcome="accepted") == 2
    assert samples.value(calls, provider="upstream-a", outcome="unreachable") == 1
    # A provider's own words are one label value, not one each.
    assert samples.value(calls, provider="upstream-a", outcome="refused") == 1
    assert samples.value("smmpanel_provider_call_seconds_avg", provider="upstream-a") == 1.4
    assert samples.value("smmpanel_provider_call_seconds_max", provider="upstream-a") == 5.0
    assert samples["smmpanel_workers_alive"] == 1
    assert 0 <= samples["smmpanel_worker_heartbeat_age_seconds"] < 60


def test_no_worker_yet_and_cached_reads(db: Database) -> None:
    with serve_in_thread(create_app(db)) as url:
        first = scrape(url)
        make_customer(db)
        service = make_service(db)
        with db.write() as session:
            enqueue(session, "forward_order", {"service": service})
        second = scrape(url)
    assert first["smmpanel_workers_alive"] == 0
    # No worker ever ran: no made-up age.
    assert "smmpanel_worker_heartbeat_age_seconds" not in first.names()
    # Read again only after a few seconds: one read serves a burst of scrapes.
    assert second.value("smmpanel_jobs", kind="forward_order", state="queued") == 0


def _deposit(account_id: int, n: int, state: str) -> Deposit:
    return Deposit(
        account_id=account_id,
        gateway="manual",
        amount=1_000_000,
        currency="USD",
        credit_amount=1_000_000,
        account_currency="USD",
        reference=f"D-{n:06d}",
        state=state,
    )


def _call(provider_id: int, outcome: str, elapsed_ms: int) -> ProviderOrderRecord:
    return ProviderOrderRecord(
        provider_id=provider_id, action="add", outcome=outcome, elapsed_ms=elapsed_ms
    )
