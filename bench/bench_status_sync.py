"""One status sync pass over many open orders, against the provider simulator.

    python bench/bench_status_sync.py [--orders 100000] [--changed 0.1]
                                      [--database-url URL]

Seeds a database (a temporary SQLite file, or --database-url naming an empty
PostgreSQL database) with `--orders` open forwarded orders of one customer,
each charged through the ledger as a placed order is (a top-up, then one
charge entry per order; the account's balance is what the entries leave), and
the built-in provider simulator, in a process of its own on a real HTTP
port, with the same orders upstream.  Both are bench fixtures inserted in
bulk: placing 100,000 orders through the API would take longer than the
passes measured.

Then, in this order:

- baseline: a bare pass that only fetches every open order's upstream status
  (the same query and the same `status` calls of 100 ids as the sync, nothing
  written): what the network and the simulator cost;
- pass 1: the first real pass (`sync_provider_statuses`), every order never
  checked before and still Pending upstream, which now reports a start count
  of 0 that the panel records: every order changes;
- pass 2: the same again (nothing changed: only checked-at stamps move);
- pass 3: after the simulator's clock moved so that the `--changed` fraction
  of orders (the oldest) went from Pending to In progress.

For each it prints orders checked, changed, upstream calls, seconds, the
ratio of its seconds to the baseline's, and the CPU seconds of this process
(the panel's side: neither the simulator's nor the database server's).  The
target (docs/benchmarks.md): 1,000 upstream calls and at most 60 s a pass for
100,000 orders.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import insert, select, text, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smmpanel.accounts.models import Account
from smmpanel.accounts.service import create_account
from smmpanel.catalog.service import ServiceSpec, create_service
from smmpanel.db import Database
from smmpanel.ledger import causes
from smmpanel.ledger.funding import fund_account
from smmpanel.ledger.models import CHARGE, LedgerEntry
from smmpanel.money import to_units
from smmpanel.orders.models import Order, OrderEvent
from smmpanel.providers.gateway import ProviderAccess, open_upstream
from smmpanel.providers.models import Provider
from smmpanel.providers.service import add_provider, map_service
from smmpanel.providers.status_sync import BATCH, open_forwarded_orders, sync_provider_statuses
from smmpanel.schema import upgrade_schema
from smmpanel.simulator.state import SimState
from smmpanel.simulator.testing import running_simulator

STAGE = 100.0  # simulated seconds an order spends in each stage
QUANTITY = 100
RATE = "0.90"  # per 1000, as the simulator's service 1
CHUNK = 5_000  # rows per INSERT statement batch


def simulator_process(conn: Connection, orders: int, changed: float) -> None:
    """Serve a simulator knowing `orders` orders on a free port: the first
    `changed` fraction placed STAGE/2 simulated seconds before the others, so
    that a later advance starts them, and only them."""
    with running_simulator(manual_clock=True, speed=STAGE, balance="100000000") as sim:
        seed_simulator(sim.state, orders, changed)
        conn.send((sim.base_url, sim.key))
        conn.recv()  # until the bench is done


def seed_simulator(state: SimState, orders: int, changed: float) -> None:
    """Place `orders` orders (ids 1..orders) in a simulator on a manual clock."""
    early = int(orders * changed)
    for n in range(orders):
        if n == early:
            state.advance(STAGE / 2)
        params = {"service": "1", "link": f"https://sync.bench/{n}", "quantity": str(QUANTITY)}
        state.add(params)


def seed_database(db: Database, api_url: str, key: str, orders: int) -> ProviderAccess:
    """A provider, a service, a funded customer and `orders` open forwarded
    orders (upstream ids 1..orders), each with its charge entry and first event."""
    upgrade_schema(db)
    add_provider(db, name="sim", api_url=api_url, api_key=key)
    spec = ServiceSpec(
        name="Followers", type="Default", category="Bench", rate=RATE, min_quantity=10,
        max_quantity=10_000,
    )  # fmt: skip
    service_id = create_service(db, spec=spec)
    map_service(db, service_id=service_id, provider_name="sim", upstream_service_id="1")
    account_id = create_account(db, username="bench").id
    charge = to_units(RATE) * QUANTITY // 1000
    funds = Decimal(RATE) * QUANTITY / 1000 * orders + 100
    balance = fund_account(db, username="bench", amount=funds)
    with db.write() as session:
        provider_id = session.execute(select(Provider.id)).scalar_one()
        for start in range(0, orders, CHUNK):
            rows = [
                _order_row(account_id, service_id, provider_id, n, charge)
                for n in range(start, min(orders, start + CHUNK))
            ]
            session.execute(insert(Order), rows)
        ids = list(session.scalars(select(Order.id).order_by(Order.id)))
        entries, events = [], []
        for order_id in ids:
            balance -= charge
            entries.append(_charge_row(account_id, order_id, charge, balance))
            events.append(dict(order_id=order_id, to_status="Pending", actor="customer:bench"))
        for start in range(0, len(ids), CHUNK):
            session.execute(insert(LedgerEntry), entries[start : start + CHUNK])
            session.execute(insert(OrderEvent), events[start : start + CHUNK])
        session.execute(update(Account).where(Account.id == account_id).values(balance=balance))
        access = ProviderAccess.of(session.get_one(Provider, provider_id))
    with db.write() as session:
        # Statistics, as a panel that grew to this size has them (a table just
        # filled in bulk has none, and PostgreSQL would plan it as if empty).
        session.execute(text("ANALYZE"))
    return access


def _order_row(account: int, service: int, provider: int, n: int, charge: int) -> dict[str, object]:
    return dict(
        account_id=account,
        service_id=service,
        kind="order",
        link=f"https://sync.bench/{n}",
        quantity=QUANTITY,
        total_quantity=QUANTITY,
        rate=to_units(RATE),
        charge=charge,
        package=False,
        currency="USD",
        status="Pending",
        remains=QUANTITY,
        params={},
        provider_id=provider,
        provider_order_id=str(n + 1),  # the simulator numbers its orders from 1
        forward_state="accepted",
        forward_skip=[],
        stale=False,
    )


def _charge_row(account: int, order_id: int, charge: int, after: int) -> dict[str, object]:
    return dict(
        account_id=account,
        kind=CHARGE,
        amount=-charge,
        balance_after=after,
        cause=causes.order_charge(order_id),
        order_id=order_id,
        actor="customer:bench",
    )


def bare_pass(db: Database, access: ProviderAccess) -> tuple[int, int, float]:
    """Orders and calls of a pass that only fetches upstream statuses; seconds."""
    started = time.perf_counter()
    orders = open_forwarded_orders(db, access.id)
    calls = 0
    with open_upstream(access) as upstream:
        for start in range(0, len(orders), BATCH):
            ids = [int(uid) for _, uid in orders[start : start + BATCH]]
            if len(upstream.statuses(ids)) != len(ids):
                raise RuntimeError("the simulator did not answer for every order")
            calls += 1
    return len(orders), calls, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--changed", type=float, default=0.1, help="fraction changed in pass 3")
    parser.add_argument("--database-url", default="")
    options = parser.parse_args()
    # The simulator listens on loopback; the provider key is sealed with a key
    # made for this run unless one is set.
    os.environ["SMMPANEL_ALLOW_PRIVATE_URLS"] = "1"
    os.environ.setdefault("SMMPANEL_SECRET_KEY", Fernet.generate_key().decode())
    url = options.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='smmpanel-sync-')}/b.db"
    started = time.perf_counter()
    ours, theirs = multiprocessing.Pipe()
    simulator = multiprocessing.get_context("spawn").Process(
        target=simulator_process, args=(theirs, options.orders, options.changed), daemon=True
    )
    simulator.start()
    base_url, key = ours.recv()
    db = Database(url)
    access = seed_database(db, f"{base_url}/api/v2", key, options.orders)
    print(
        f"backend={url.split(':', 1)[0]} orders={options.orders} "
        f"seeded in {time.perf_counter() - started:.1f} s (simulator and database)"
    )
    print(
        f"{'pass':<38}{'checked':>9}{'changed':>9}{'calls':>7}{'seconds':>9}{'vs bare':>9}"
        f"{'CPU s':>9}"
    )
    cpu = time.process_time()
    checked, calls, bare = bare_pass(db, access)
    cpu = time.process_time() - cpu
    print(
        f"{'baseline: bare fetch, no writes':<38}{checked:>9}{'-':>9}{calls:>7}{bare:>9.2f}"
        f"{1:>8.2f}x{cpu:>9.2f}"
    )
    passes = [("pass 1: first, start counts recorded", 0), ("pass 2: nothing changed", 0)]
    passes.append((f"pass 3: {options.changed:.0%} changed", 1))
    try:
        for name, advance in passes:
            if advance:
                # The early orders reach their start (STAGE after placement),
                # the others stay STAGE/2 short of theirs.
                moved = httpx.post(
                    f"{base_url}/_sim/advance",
                    json={"key": key, "seconds": STAGE / 2 + 1},
                    timeout=60,
                )
                moved.raise_for_status()
            begun, cpu = time.perf_counter(), time.process_time()
            report = sync_provider_statuses(db, access)
            seconds, cpu = time.perf_counter() - begun, time.process_time() - cpu
            if report.errors:
                raise RuntimeError(report.errors[:3])
            print(
                f"{name:<38}{report.checked:>9}{report.changed:>9}{report.calls:>7}"
                f"{seconds:>9.2f}{seconds / bare:>8.2f}x{cpu:>9.2f}"
            )
    finally:
        ours.send("stop")
        simulator.join(20)
        db.dispose()


if __name__ == "__main__":
    main()
