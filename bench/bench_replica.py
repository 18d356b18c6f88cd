"""In-process cost of reading on a replica: `handle()` of services, status
(of 1 and of 100 orders) and balance, one thread, on the primary alone and
with a streaming replica, alternated in the same run (docs/benchmarks.md,
"Read replicas").

    python bench/bench_replica.py --primary URL --replica URL [--seconds 1] [--rounds 5]

`--primary` names an empty PostgreSQL database and `--replica` the same
database on a standby streaming from it.  With `--replica` equal to
`--primary` it measures the routing alone (two transactions for `status`).
Each figure is the best of `--rounds` alternating rounds: other processes on
a shared machine only ever slow a round down.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from smmpanel.accounts.service import create_account
from smmpanel.api_v2.app import handle
from smmpanel.catalog.service import ServiceSpec, create_service
from smmpanel.db import Database
from smmpanel.ledger.funding import fund_account
from smmpanel.orders.models import Order
from smmpanel.orders.service import place_order
from smmpanel.schema import upgrade_schema

SERVICES = 20
ORDERS = 100
FRESH_SECONDS = 1.0


def rate(db: Database, params: dict[str, Any], seconds: float) -> float:
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        handle(db, params)
        calls += 1
    return calls / (time.perf_counter() - started)


def seed(db: Database) -> tuple[str, list[int]]:
    for number in range(SERVICES):
        spec = ServiceSpec(
            name=f"Bench {number}", type="Default", category="Bench", rate="0.01",
            min_quantity=1, max_quantity=1_000_000,
        )  # fmt: skip
        create_service(db, spec=spec)
    account = create_account(db, username="bench")
    fund_account(db, username="bench", amount="1000000")
    ids = [
        place_order(
            db,
            account_id=account.id,
            service_id=1,
            params={"link": f"https://example.com/{n}", "quantity": "10"},
        ).order_id
        for n in range(ORDERS)
    ]
    return account.api_key, ids


def wait_for(replica: Database, orders: int) -> None:
    """Until the replica has the seeded orders, then until none is fresh."""
    deadline = time.monotonic() + 60
    while True:
        with replica.read_core_lagging() as connection:
            if connection.execute(select(func.count(Order.id))).scalar() == orders:
                break
        if time.monotonic() > deadline:
            raise RuntimeError("the replica did not catch up within 60 s")
        time.sleep(0.1)
    time.sleep(FRESH_SECONDS + 0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--primary", required=True)
    parser.add_argument("--replica", required=True)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    primary = Database(options.primary)
    upgrade_schema(primary)
    key, ids = seed(primary)
    routed = Database(options.primary, replica_urls=[options.replica], fresh_seconds=FRESH_SECONDS)
    wait_for(routed, ORDERS)
    cases = {
        "services": {"action": "services"},
        "status of 1": {"action": "status", "order": str(ids[0])},
        "status of 100": {"action": "status", "orders": ",".join(map(str, ids))},
        "balance": {"action": "balance"},
    }
    print(f"best of {options.rounds} alternating rounds of {options.seconds} s")
    for name, params in cases.items():
        params = {"key": key, **params}
        if handle(primary, params) != handle(routed, params):
            raise RuntimeError(f"{name}: the replica answers differently")
        alone = with_replica = 0.0
        for _ in range(options.rounds):
            alone = max(alone, rate(primary, params, options.seconds))
            with_replica = max(with_replica, rate(routed, params, options.seconds))
        print(
            f"handle({name}): primary alone {alone:6.0f}/s, with the replica "
            f"{with_replica:6.0f}/s = {with_replica / alone:.2f}x"
        )
    primary.dispose()
    routed.dispose()


if __name__ == "__main__":
    main()
