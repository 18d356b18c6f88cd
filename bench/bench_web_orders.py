"""The customer web's order lists at 100,000 orders of one customer, against a
baseline measured in the same run.

    python bench/bench_web_orders.py [--orders 100000] [--repeat 30] [--database-url URL]
                                     [--without-list-indexes]

Inserts the orders with Core executemany (a fresh database; PostgreSQL: give an
empty one), then times, each the median of `--repeat` calls of the domain
query the page runs (orders/listing.py, one read transaction each):

- the first page of /orders (50 newest);
- a page deep in the keyset (older than the 1,000th order: near the end);
- a status tab (Completed: a third of the orders), one deep in it, and a tab
  with few orders (Canceled: 1 in 100);
- a search by link (LIKE '%...%': the account's orders are scanned) and by id;
- the baseline: a `SELECT 1` round trip, and the API's `status` of one order.

Ratios to the baseline compare across machines; what matters is that the deep
page costs what the first does (keyset, no OFFSET).
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

from smmpanel.accounts.service import create_account
from smmpanel.catalog.service import ServiceSpec, create_service
from smmpanel.db import Database
from smmpanel.orders import listing
from smmpanel.orders.models import CANCELED, COMPLETED, IN_PROGRESS, PENDING, Order
from smmpanel.orders.queries import orders_by_id
from smmpanel.schema import upgrade_schema
from smmpanel.timeutil import utcnow

STATUSES = (COMPLETED, IN_PROGRESS, PENDING)


def fill(db: Database, account_id: int, other_id: int, service_id: int, count: int) -> None:
    """`count` orders of the customer (and as many of another, interleaved, so the
    customer's rows are not simply the whole table)."""
    table: Table = Order.__table__  # type: ignore[assignment]
    start = utcnow() - timedelta(days=60)
    batch: list[dict[str, Any]] = []
    with db.write() as session:
        for n in range(count * 2):
            mine = n % 2 == 0
            batch.append(
                {
                    "account_id": account_id if mine else other_id,
                    "service_id": service_id,
                    "kind": "order",
                    "link": f"https://example.com/p{n // 2}",
                    "quantity": 100,
                    "total_quantity": 100,
                    "rate": 90_000,
                    "charge": 9_000,
                    "refunded": 0,
                    "package": False,
                    "currency": "USD",
                    # One order in 100 canceled: a tab with few rows.
                    "status": CANCELED if (n // 2) % 100 == 7 else STATUSES[(n // 2) % 3],
                    "remains": 0,
                    "params": {},
                    "forward_skip": [],
                    "forward_error": "",
                    "stale": False,
                    "created_at": start + timedelta(seconds=n),
                    "updated_at": start + timedelta(seconds=n),
                }
            )
            if len(batch) == 5_000:
                session.execute(insert(table), batch)
                batch = []
        if batch:
            session.execute(insert(table), batch)
    if not db.is_sqlite:
        with db.write() as session:
            session.execute(text("ANALYZE orders"))


def timed(call: Callable[[], Any], repeat: int) -> float:
    call()  # warm: statement caches, pages in memory
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--without-list-indexes",
        action="store_true",
        help="measure as before migration 0013 (only the (account_id, status) index)",
    )
    options = parser.parse_args()
    url = options.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='smmpanel-bench-')}/w.db"
    db = Database(url)
    upgrade_schema(db)
    if options.without_list_indexes:
        with db.write() as session:
            session.execute(text("DROP INDEX ix_orders_account_id_id"))
            session.execute(text("DROP INDEX ix_orders_account_status_id"))
            session.execute(
                text("CREATE INDEX ix_orders_account_status ON orders (account_id, status)")
            )
    customer = create_account(db, username="bench")
    other = create_account(db, username="other")
    service_id = create_service(
        db,
        spec=ServiceSpec(
            name="Followers", type="Default", category="Bench", rate="0.90",
            min_quantity=10, max_quantity=100_000,
        ),
    )  # fmt: skip
    began = time.perf_counter()
    fill(db, customer.id, other.id, service_id, options.orders)
    print(
        f"backend={url.split(':', 1)[0]} orders={options.orders} of the customer "
        f"(+{options.orders} of another) inserted in {time.perf_counter() - began:.1f} s"
    )
    first = listing.list_account_orders(db, account_id=customer.id)
    deep_from = first.rows[0].id - 2 * (options.orders - 1_000)  # ~1,000 orders from the end
    some_id = first.rows[10].id

    def select_one() -> None:
        with db.read() as session:
            session.execute(text("SELECT 1")).scalar_one()

    def page(**kwargs: Any) -> Callable[[], Any]:
        return lambda: listing.list_account_orders(db, account_id=customer.id, **kwargs)

    cases: list[tuple[str, Callable[[], Any]]] = [
        ("baseline: SELECT 1", select_one),
        (
            "baseline: API status of 1 order",
            lambda: orders_by_id(db, [some_id], account_id=customer.id),
        ),
        ("first page", page()),
        ("deep page (keyset)", page(before=deep_from)),
        ("status tab Completed", page(status=COMPLETED)),
        ("status tab, deep", page(status=COMPLETED, before=deep_from)),
        ("status tab Canceled (1%)", page(status=CANCELED)),
        ("search by id", page(search=str(some_id))),
        ("search by link", page(search="example.com/p12345")),
    ]
    results = [(name, timed(call, options.repeat)) for name, call in cases]
    baseline = results[0][1]
    status_one = results[1][1]
    print(f"{'query':34} {'median ms':>10} {'x SELECT 1':>11} {'x status':>9}")
    for name, seconds in results:
        print(
            f"{name:34} {seconds * 1000:10.2f} {seconds / baseline:11.1f} "
            f"{seconds / status_one:9.1f}"
        )


if __name__ == "__main__":
    main()
