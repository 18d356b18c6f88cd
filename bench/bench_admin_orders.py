"""The admin's orders list at a million orders of a thousand customers, against
a baseline measured in the same run.

    python bench/bench_admin_orders.py [--orders 1000000] [--repeat 15] [--database-url URL]
                                       [--without-admin-indexes]

Inserts the orders with Core executemany (a fresh database; PostgreSQL: give an
empty one), then times, each the median of `--repeat` calls of the domain
query the page runs (orders/admin_listing.py, one read transaction each): the
first page, a deep page (keyset), each filter (a common and a rare status,
service, customer, provider, forwarding state, a recent and an old date
range), each search (order id, upstream order id, part of a link) and a few
combinations.  `--without-admin-indexes` drops migration 0016's indexes first,
to measure what they buy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smmpanel.accounts.models import Account
from smmpanel.catalog.service import ServiceSpec, create_service
from smmpanel.db import Database
from smmpanel.orders.admin_listing import MANUAL, OrderFilter, list_all_orders
from smmpanel.orders.models import Order
from smmpanel.orders.queries import orders_by_id
from smmpanel.providers.models import Provider
from smmpanel.schema import upgrade_schema
from smmpanel.timeutil import utcnow

CUSTOMERS = 1_000
SERVICES = 20
DAYS = 365
# One order in 200 is Partial and one in 500 waits for reconciliation: rare
# values, which a scan newest-first must read far to fill a page of.
COMMON = ("Completed", "Completed", "Completed", "In progress", "Pending", "Canceled")
ADMIN_INDEXES = ("ix_orders_status_id", "ix_orders_created_at", "ix_orders_provider_order_id")


def _accounts(db: Database) -> list[int]:
    table: Table = Account.__table__  # type: ignore[assignment]
    rows = [
        {"username": f"c{n}", "email": f"c{n}@example.com", "currency": "USD", "balance": 0}
        for n in range(CUSTOMERS)
    ]
    with db.write() as session:
        session.execute(insert(table), rows)
        return list(session.scalars(text("SELECT id FROM accounts ORDER BY id")))


def _order(n: int, count: int, accounts: list[int], services: list[int], start: Any) -> dict:
    forwarded = n % 4 != 0  # three in four go to one of two providers
    state = None
    if forwarded:
        state = "reconcile" if n % 500 == 3 else ("failed" if n % 700 == 5 else "accepted")
    return {
        "account_id": accounts[(n * 7919) % len(accounts)],
        "service_id": services[n % len(services)],
        "kind": "order",
        "link": f"https://example.com/p{n}",
        "quantity": 100,
        "total_quantity": 100,
        "rate": 90_000,
        "charge": 9_000,
        "refunded": 0,
        "package": False,
        "currency": "USD",
        "status": "Partial" if n % 200 == 11 else COMMON[n % len(COMMON)],
        "remains": 0,
        "params": {},
        "forward_skip": [],
        "forward_error": "",
        "stale": False,
        "provider_id": (1 + n % 2) if forwarded else None,
        "forward_state": state,
        "provider_order_id": str(5_000_000 + n) if state == "accepted" else None,
        # Spread evenly over a year, oldest first (ids grow with time, as in life).
        "created_at": start + timedelta(seconds=n * DAYS * 86_400 / count),
        "updated_at": start + timedelta(seconds=n * DAYS * 86_400 / count),
    }


def fill(db: Database, count: int) -> None:
    accounts = _accounts(db)
    spec = ServiceSpec(
        name="S",
        type="Default",
        category="Bench",
        rate="0.90",
        min_quantity=10,
        max_quantity=100_000,
    )
    services = [create_service(db, spec=spec) for _ in range(SERVICES)]
    # Rows, not add_provider: it would resolve the (made-up) hosts.
    providers: Table = Provider.__table__  # type: ignore[assignment]
    with db.write() as session:
        session.execute(
            insert(providers),
            [
                {"name": name, "api_url": f"https://{name}.example/api/v2", "api_key": "unused"}
                for name in ("alpha", "beta")
            ],
        )
    table: Table = Order.__table__  # type: ignore[assignment]
    start = utcnow() - timedelta(days=DAYS)
    batch: list[dict[str, Any]] = []
    for n in range(count):
        batch.append(_order(n, count, accounts, services, start))
        if len(batch) == 20_000:
            with db.write() as session:
                session.execute(insert(table), batch)
            batch = []
    if batch:
        with db.write() as session:
            session.execute(insert(table), batch)
    with db.write() as session:
        session.execute(text("ANALYZE"))


def timed(call: Callable[[], Any], repeat: int) -> float:
    call()  # warm: statement caches, pages in memory
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def cases(db: Database, count: int) -> list[tuple[str, Callable[[], Any]]]:
    first = list_all_orders(db, OrderFilter())
    newest = first.rows[0].id
    deep = newest - count + 1_000
    today = utcnow().date()

    def page(before: int | None = None, **wanted: Any) -> Callable[[], Any]:
        return lambda: list_all_orders(db, OrderFilter(**wanted), before=before)

    def select_one() -> None:
        with db.read() as session:
            session.execute(text("SELECT 1")).scalar_one()

    old = today - timedelta(days=300)
    return [
        ("baseline: SELECT 1", select_one),
        ("baseline: API status of 1 order", lambda: orders_by_id(db, [newest], account_id=None)),
        ("first page", page()),
        ("deep page (keyset)", page(before=deep)),
        ("status Completed (1/2)", page(status="Completed")),
        ("status Completed, deep", page(before=deep, status="Completed")),
        ("status Partial (1/200)", page(status="Partial")),
        ("status Processing (none)", page(status="Processing")),
        ("service (1/20)", page(service_id=first.rows[0].service_id)),
        ("customer (1/1000)", page(username="c17")),
        ("customer + status Completed", page(username="c17", status="Completed")),
        ("provider (3/8)", page(provider_id=1)),
        ("forwarding reconcile (1/667)", page(forward_state="reconcile")),
        ("forwarding manual (1/4)", page(forward_state=MANUAL)),
        ("placed in the last 7 days", page(since=today - timedelta(days=6))),
        ("placed on one day 300 days ago", page(since=old, until=old)),
        ("search: order id", page(search=str(newest - 12_345))),
        ("search: upstream order id", page(search=str(5_000_000 + count // 3 + 1))),
        ("search: link part, 1 match", page(search=f"example.com/p{count // 2}x")),
        ("search: link part, many", page(search="example.com/p12")),
        ("customer + search: link part", page(username="c17", search="example.com/p9")),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--without-admin-indexes",
        action="store_true",
        help="measure as before migration 0016 (drop its indexes)",
    )
    options = parser.parse_args()
    url = options.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='smmpanel-bench-')}/a.db"
    db = Database(url)
    upgrade_schema(db)
    if options.without_admin_indexes:
        with db.write() as session:
            for name in ADMIN_INDEXES:
                session.execute(text(f"DROP INDEX IF EXISTS {name}"))
    began = time.perf_counter()
    fill(db, options.orders)
    print(
        f"backend={url.split(':', 1)[0]} orders={options.orders} of {CUSTOMERS} customers "
        f"inserted in {time.perf_counter() - began:.1f} s"
    )
    results = [(name, timed(call, options.repeat)) for name, call in cases(db, options.orders)]
    baseline = results[0][1]
    print(f"{'query':34} {'median ms':>10} {'x SELECT 1':>11}")
    for name, seconds in results:
        print(f"{name:34} {seconds * 1000:10.2f} {seconds / baseline:11.1f}")


if __name__ == "__main__":
    main()
