"""Scale-out on one PostgreSQL database: 2 API processes and 2 workers, the
provider simulator upstream, 2,000 orders placed by concurrent clients (some
requests sent twice, to the other API process), forwarded and synced to their
end.  None is lost, none is forwarded twice, every balance is exact."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from smmpanel.accounts.models import Account
from smmpanel.db import Database
from smmpanel.money import to_units
from smmpanel.orders.models import Order
from smmpanel.providers.catalog_sync import import_provider_services
from smmpanel.providers.service import add_provider
from smmpanel.server import free_port
from smmpanel.tokens import new_token
from tests.e2e.processes import process, run_cli, smmpanel_env, wait_for, wait_http
from tests.factories import make_customer

ORDERS = 2000
CLIENTS = 16
CUSTOMERS = 4
FUNDS = "1000"
REPEAT_EVERY = 10  # every 10th request is sent again, to the other API process
RETRIES_AFTER_503 = 5
FINAL = ("Completed", "Partial", "Canceled")
# Services of the simulator's built-in catalog: 1 completes; 2 ends Partial
# (a fault with remains = 30%), so refunds are part of the money checked.
SERVICES = ({"service": 1, "quantity": 100}, {"service": 2, "quantity": 1000})
# Schedules of seconds, not minutes, so 2,000 orders end within the test.
FAST = {
    "SMMPANEL_STATUS_SYNC_SECONDS": "1",
    "SMMPANEL_RECONCILE_SECONDS": "5",
    "SMMPANEL_DRIPFEED_SECONDS": "5",
}


@dataclass
class Cluster:
    apis: list[str]
    keys: list[str]
    simulator: str
    simulator_key: str
    env: dict[str, str]

    def sim(self, path: str) -> Any:
        url = f"{self.simulator}/_sim/{path}"
        return httpx.get(url, params={"key": self.simulator_key}, timeout=30).json()


@pytest.fixture
def cluster(postgres_db: Database, tmp_path: Path) -> Iterator[Cluster]:
    env = smmpanel_env(postgres_db.url, **FAST)
    sim_port, api_ports = free_port(), [free_port(), free_port()]
    sim_key = new_token(24)
    simulator = f"http://127.0.0.1:{sim_port}"
    with ExitStack() as running:
        running.enter_context(
            process(
                env,
                *("simulate-provider", "--port", str(sim_port), "--key", sim_key),
                *("--speed", "0.5", "--balance", "1000000"),
                *("--fault", "partial:service=2,fraction=0.3"),
                log=tmp_path / "simulator.log",
            )
        )
        wait_http(f"{simulator}/_sim/health")
        # The panel's own commands in this process: ten CLI processes took
        # most of a minute to start on a busy two-core machine.
        add_provider(
            postgres_db,
            name="sim",
            api_url=f"{simulator}/api/v2",
            api_key=sim_key,
            dialect={"timeout": 30, "lookup_url": f"{simulator}/_sim/orders"},
        )
        import_provider_services(
            postgres_db, provider_name="sim", markup_percent="25", round_places=2
        )
        keys = [make_customer(postgres_db, f"c{n}", balance=FUNDS).key for n in range(CUSTOMERS)]
        for number, port in enumerate(api_ports):
            log = tmp_path / f"api{number}.log"
            running.enter_context(process(env, "serve", "--port", str(port), log=log))
        for number in range(2):
            log = tmp_path / f"worker{number}.log"
            running.enter_context(process(env, "worker", "--poll", "0.1", log=log))
        for port in api_ports:
            wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
        apis = [f"http://127.0.0.1:{port}/api/v2" for port in api_ports]
        yield Cluster(apis, keys, simulator, sim_key, env)


@dataclass(frozen=True)
class Placed:
    request_id: str
    customer: int
    order: int


def place_all(cluster: Cluster) -> list[Placed]:
    """ORDERS orders from CLIENTS threads, each on keep-alive connections to
    both API processes; every REPEAT_EVERY-th request is sent again to the
    other process and must answer the same order."""
    numbers = itertools.count()
    placed: list[Placed] = []
    failures: list[object] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        with httpx.Client(timeout=60) as first, httpx.Client(timeout=60) as second:
            sessions = [(first, cluster.apis[index % 2]), (second, cluster.apis[1 - index % 2])]
            while (n := next(numbers)) < ORDERS:
                customer = n % CUSTOMERS
                params = {
                    "key": cluster.keys[customer],
                    "action": "add",
                    "link": f"https://scale.test/{n}",
                    "request_id": f"r{n}",
                    **{k: str(v) for k, v in SERVICES[n % 2].items()},
                }
                client_, api = sessions[n % 2]
                answer = _post_until_done(client_, api, params)
                if n % REPEAT_EVERY == 0:
                    other, other_api = sessions[1 - n % 2]
                    again = _post_until_done(other, other_api, params)
                    if again != answer:
                        with lock:
                            failures.append((n, answer, again))
                with lock:
                    if set(answer) == {"order"}:
                        placed.append(Placed(f"r{n}", customer, answer["order"]))
                    else:
                        failures.append((n, answer))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    return placed


def _post_until_done(client: httpx.Client, api: str, params: dict[str, str]) -> Any:
    """The answer of an `add`, sent again after a 503 as a reseller's script
    does: 503 means nothing was done (the call waited past the database's
    busy timeout, which a two-core machine running the whole suite can
    reach), and the same request_id makes the retry safe."""
    for _ in range(RETRIES_AFTER_503):
        answer = client.post(api, data=params)
        if answer.status_code != 503:
            break
        time.sleep(0.5)
    return answer.json()


def test_two_apis_and_two_workers_lose_nothing_and_forward_once(
    cluster: Cluster, postgres_db: Database
) -> None:
    placed = place_all(cluster)
    # Every accepted request has its own order, and no order answers two requests.
    assert len(placed) == ORDERS
    assert len({p.order for p in placed}) == ORDERS

    def counts() -> dict[str, int]:
        with postgres_db.read() as session:
            rows = session.execute(select(Order.status, func.count()).group_by(Order.status))
            return {status: count for status, count in rows.all()}

    def all_final() -> dict[str, int] | None:
        now = counts()
        return now if sum(now.get(status, 0) for status in FINAL) == ORDERS else None

    final = wait_for(all_final, timeout=240, what=f"{ORDERS} orders to end (now {counts()})")
    assert final == {"Completed": ORDERS // 2, "Partial": ORDERS // 2}

    with postgres_db.read() as session:
        orders = session.execute(
            select(
                Order.id, Order.account_id, Order.charge, Order.refunded, Order.provider_order_id
            )
        ).all()
        accounts = {a.id: a for a in session.scalars(select(Account)).all()}
    # None lost: exactly the orders answered exist, nothing more.
    assert sorted(o.id for o in orders) == sorted(p.order for p in placed)

    # None forwarded twice: one upstream add call and one upstream order per order.
    upstream_ids = [o.provider_order_id for o in orders]
    assert None not in upstream_ids
    assert len(set(upstream_ids)) == ORDERS
    records = cluster.sim("orders")
    assert records["count"] == ORDERS
    assert sorted(str(r["id"]) for r in records["orders"]) == sorted(map(str, upstream_ids))
    assert Counter(cluster.sim("links")["links"].values()) == {1: ORDERS}
    assert cluster.sim("stats")["requests"]["add"] == ORDERS

    # Balances exact: funded, less what each order costs after its refunds.
    cost: Counter[int] = Counter()
    for order in orders:
        assert order.refunded >= 0
        cost[order.account_id] += order.charge - order.refunded
    assert len(accounts) == CUSTOMERS
    for account in accounts.values():
        assert account.balance == to_units(FUNDS) - cost[account.id], account.username
    for number, key in enumerate(cluster.keys):
        answer = httpx.post(cluster.apis[number % 2], data={"key": key, "action": "balance"})
        username = f"c{number}"
        [account] = [a for a in accounts.values() if a.username == username]
        assert to_units(answer.json()["balance"]) == account.balance
    assert "ledger ok" in run_cli(cluster.env, "ledger", "check")
