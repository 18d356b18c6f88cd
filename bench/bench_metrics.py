"""What /metrics costs: recording one /api/v2 call, and reading the database's
values for a scrape on a large panel.

    python bench/bench_metrics.py [--orders 200000] [--calls 200000] [--repeat 9]
                                  [--database-url URL]

1. Recording: `PanelMetrics.api_call` (a counter and a histogram), timed over
   `--calls` calls in this process (values in memory, as `serve` with one
   process) and in a child process with PROMETHEUS_MULTIPROC_DIR set (values in
   mmap'd files, as `serve --workers N`), against an empty loop of the same
   calls' arguments, in the same run.
2. Scraping: a database filled like bench_admin_orders.py (`--orders` orders
   of 1,000 customers, three in four forwarded), plus as many jobs (nearly all
   done, a few hundred queued, running and failed), as many provider calls over
   a year (a few hundred in the last minutes) and 10,000 deposits; then the
   median of `--repeat` reads of every database value (DatabaseCollector, no
   cache) and of a whole scrape answered from the cache.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_admin_orders import fill
from prometheus_client import generate_latest

from smmpanel.api_v2.app import panel_metrics
from smmpanel.db import Database
from smmpanel.jobs.models import Job
from smmpanel.metrics.collector import DatabaseCollector
from smmpanel.payments.models import Deposit
from smmpanel.providers.models import ProviderOrderRecord
from smmpanel.schema import upgrade_schema
from smmpanel.timeutil import utcnow

ACTIONS = ("balance", "status", "add", "services", "nope")
KINDS = ("forward_order", "status_sync", "webhook", "dripfeed_runs")


def recording_cost(calls: int) -> tuple[float, float]:
    """Microseconds per recorded call, and per empty call, in this process."""
    metrics = panel_metrics()
    args = [(ACTIONS[n % 5], 200, {"balance": "1"}, 0.0004 + n % 7 / 1000) for n in range(calls)]

    def empty(_a: str, _s: int, _b: object, _t: float) -> None:
        pass

    took = {}
    for name, record in (("empty", empty), ("recorded", metrics.api_call)):
        began = time.perf_counter()
        for action, status, body, seconds in args:
            record(action, status, body, seconds)
        took[name] = (time.perf_counter() - began) / calls * 1e6
    return took["recorded"], took["empty"]


def recording_cost_multiprocess(calls: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as directory:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}
        out = subprocess.run(
            [sys.executable, __file__, "--child-calls", str(calls)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    return float(out[0]), float(out[1])


def fill_the_rest(db: Database, count: int) -> None:
    """Jobs, provider calls and deposits beside the orders of `fill`."""
    now = utcnow()
    rng = random.Random(7)
    jobs: list[dict[str, Any]] = []
    for n in range(count):
        state = "done" if n % 400 else rng.choice(("queued", "running", "failed"))
        at = now - timedelta(seconds=rng.randrange(365 * 86_400 if state == "done" else 600))
        jobs.append(
            {
                "kind": KINDS[n % 4],
                "payload": {},
                "status": state,
                "run_at": at,
                "attempts": 1,
                "max_attempts": 8,
                "last_error": "",
                "created_at": at,
            }
        )
    calls: list[dict[str, Any]] = []
    for n in range(count):
        recent = n % 1000 == 0
        ago = rng.randrange(300) if recent else rng.randrange(600, 365 * 86_400)
        outcome = ("accepted", "accepted", "unreachable", "Not enough funds")[n % 4]
        calls.append(
            {
                "provider_id": 1 + n % 2,
                "order_id": None,
                "action": "add",
                "outcome": outcome,
                "detail": "",
                "elapsed_ms": rng.randrange(50, 900),
                "created_at": now - timedelta(seconds=ago),
            }
        )
    deposits = [
        {
            "account_id": 1 + n % 1000,
            "gateway": "manual",
            "amount": 1_000_000,
            "currency": "USD",
            "credit_amount": 1_000_000,
            "account_currency": "USD",
            "bonus_amount": 0,
            "reference": f"D-{n:06d}",
            "state": ("paid", "paid", "pending", "created")[n % 4],
            "owed_amount": 0,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(10_000)
    ]
    for model, rows in ((Job, jobs), (ProviderOrderRecord, calls), (Deposit, deposits)):
        table: Table = model.__table__  # type: ignore[assignment]
        for start in range(0, len(rows), 20_000):
            with db.write() as session:
                session.execute(insert(table), rows[start : start + 20_000])
    with db.write() as session:
        session.execute(text("ANALYZE"))


def median_ms(call: Any, repeat: int) -> float:
    call()  # warm
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples) * 1000


def scrape_cost(db: Database, repeat: int) -> tuple[float, float, int]:
    uncached = DatabaseCollector(db, stale_after=120, ttl=0)
    read_ms = median_ms(lambda: list(uncached.collect()), repeat)
    metrics = panel_metrics()
    metrics.registry.register(DatabaseCollector(db, stale_after=120))
    body = generate_latest(metrics.registry)
    cached_ms = median_ms(lambda: generate_latest(metrics.registry), repeat)
    return read_ms, cached_ms, len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    parser.add_argument("--child-calls", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_calls:  # the multiprocess measurement, in its own process
        recorded, empty = recording_cost(args.child_calls)
        print(recorded, empty)
        return
    recorded, empty = recording_cost(args.calls)
    print(
        f"record one API call, in memory:    {recorded - empty:5.2f} µs "
        f"({recorded:.2f} µs with the loop, {empty:.2f} µs without)"
    )
    recorded, empty = recording_cost_multiprocess(args.calls)
    print(
        f"record one API call, multiprocess: {recorded - empty:5.2f} µs "
        f"({recorded:.2f} µs with the loop, {empty:.2f} µs without)"
    )
    with tempfile.TemporaryDirectory() as directory:
        db = Database(args.database_url or f"sqlite:///{directory}/bench.db")
        upgrade_schema(db)
        began = time.perf_counter()
        fill(db, args.orders)
        fill_the_rest(db, args.orders)
        print(
            f"filled {args.orders:,} orders, jobs and provider calls "
            f"in {time.perf_counter() - began:.0f} s ({db.engine.dialect.name})"
        )
        read_ms, cached_ms, size = scrape_cost(db, args.repeat)
        print(f"read every database value (no cache): {read_ms:7.2f} ms")
        print(f"a whole scrape from the cache:        {cached_ms:7.2f} ms ({size:,} bytes)")
        db.dispose()


if __name__ == "__main__":
    main()
