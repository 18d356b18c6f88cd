"""The API process SIGKILLed mid-traffic and started again, twice: the orders
whose answer was lost are sent again with their request_id, and in the end
every request made exactly one order, charged exactly once.  (The worker's
crashes: tests/e2e/test_crash.py.)"""

from __future__ import annotations

import signal
from pathlib import Path

from smmpanel.db import Database
from smmpanel.server import free_port
from tests.e2e.processes import process, smmpanel_env, wait_for, wait_http
from tests.factories import make_customer, make_service
from tests.faults.traffic import TRANSPORT_ERROR, Traffic, verify_orders
from tests.figures import backend, report

KILLS = 2


def test_api_killed_mid_traffic(db: Database, tmp_path: Path) -> None:
    """About 15 s per database: three `smmpanel serve` starts, 30 orders each."""
    service = make_service(db, min_quantity=1)
    alice = make_customer(db, balance="1000")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = smmpanel_env(db.url)
    traffic = Traffic(base, alice.key, service, threads=4)
    started = False
    lost = 0
    for life in range(KILLS + 1):
        with process(env, "serve", "--port", str(port), log=tmp_path / f"serve{life}.log") as api:
            wait_http(f"{base}/healthz")
            if not started:
                traffic.start()
                started = True
            traffic.wait_for_orders(30, timeout=60)
            if life == KILLS:
                traffic.stop()  # every request answered, by this last process
                break
            before = len(traffic.calls)
            api.send_signal(signal.SIGKILL)
            wait_for(lambda: api.poll() is not None, timeout=10, what="the API to die")
            wait_for(
                lambda: traffic.by_status()[TRANSPORT_ERROR] > lost,  # noqa: B023
                timeout=10,
                what="clients to notice",
            )
            lost = traffic.by_status()[TRANSPORT_ERROR]
            assert len(traffic.calls) > before
    assert traffic.not_json == []
    statuses = traffic.by_status()
    assert set(statuses) <= {200, TRANSPORT_ERROR}, statuses
    orders = verify_orders(db, alice.id, 1000 * 100_000, traffic.answered)
    report(
        f"faults/api-sigkill[{backend(db)}]",
        kills=KILLS,
        calls=len(traffic.calls),
        by_status={("no answer" if s == TRANSPORT_ERROR else s): n for s, n in statuses.items()},
        orders=orders,
        charged_once="all",
        ledger="clean",
    )
