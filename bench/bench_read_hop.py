"""A short API read on the event loop against the same read through one thread
hop (anyio.to_thread), in-process, in the same run.

    python bench/bench_read_hop.py [--calls 2000] [--concurrency 32] [--database-url URL]

For `balance`, `status` of 1 and of 100 orders and `services`, three figures:
the call itself (microseconds, run directly), the call through one thread hop
(microseconds, one at a time: the hop's latency), and calls per second with
`--concurrency` tasks at once on one event loop, run inline (each call blocks
the loop for its duration) and through hops limited to 4 threads (as the API's
read gate).  The database URL must name an empty database (default: a
temporary SQLite file).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio.to_thread
from anyio import CapacityLimiter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smmpanel.accounts.service import create_account
from smmpanel.api_v2.app import answer_of
from smmpanel.catalog.service import ServiceSpec, create_service
from smmpanel.db import Database
from smmpanel.ledger.funding import fund_account
from smmpanel.orders.service import place_order
from smmpanel.schema import upgrade_schema


def _setup(db: Database) -> str:
    upgrade_schema(db)
    spec = ServiceSpec(
        name="Bench", type="Default", category="Bench", rate="0.01", min_quantity=1,
        max_quantity=1_000_000,
    )  # fmt: skip
    service = create_service(db, spec=spec)
    account = create_account(db, username="bench")
    fund_account(db, username="bench", amount="1000000")
    for n in range(100):
        params = {"quantity": "10", "link": f"https://example.com/{n}"}
        place_order(db, account_id=account.id, service_id=service, params=params, actor="bench")
    return account.api_key


def _bodies(key: str) -> dict[str, dict[str, Any]]:
    return {
        "balance": {"key": key, "action": "balance"},
        "status 1": {"key": key, "action": "status", "order": "1"},
        "status 100": {
            "key": key,
            "action": "status",
            "orders": ",".join(str(n) for n in range(1, 101)),
        },
        "services": {"key": key, "action": "services"},
    }


async def _concurrent(call: Callable[[], Any], calls: int, tasks: int, hop: bool) -> float:
    limiter = CapacityLimiter(4)
    left = [calls]

    async def run() -> None:
        while left[0] > 0:
            left[0] -= 1
            if hop:
                await anyio.to_thread.run_sync(call, limiter=limiter)
            else:
                call()
                await asyncio.sleep(0)  # let the other tasks in, as a request would

    started = time.perf_counter()
    await asyncio.gather(*(run() for _ in range(tasks)))
    return calls / (time.perf_counter() - started)


async def _measure(db: Database, body: dict[str, Any], calls: int, tasks: int) -> list[float]:
    def call() -> Any:
        return answer_of(db, dict(body))

    for _ in range(100):  # warm-up (and the services cache, where there is one)
        call()
    started = time.perf_counter()
    for _ in range(calls):
        call()
    direct = (time.perf_counter() - started) / calls * 1e6
    started = time.perf_counter()
    for _ in range(calls):
        await anyio.to_thread.run_sync(call)
    hopped = (time.perf_counter() - started) / calls * 1e6
    inline_rate = await _concurrent(call, calls, tasks, hop=False)
    hop_rate = await _concurrent(call, calls, tasks, hop=True)
    return [direct, hopped, inline_rate, hop_rate]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--database-url", default="")
    options = parser.parse_args()
    url = options.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='smmpanel-bench-')}/b.db"
    db = Database(url, busy_timeout=3)
    key = _setup(db)
    print(f"backend={url.split(':', 1)[0]} calls={options.calls} tasks={options.concurrency}")
    print(f"{'read':<12}{'direct us':>11}{'hop us':>9}{'inline/s':>10}{'hopped/s':>10}")
    for name, body in _bodies(key).items():
        direct, hopped, inline_rate, hop_rate = asyncio.run(
            _measure(db, body, options.calls, options.concurrency)
        )
        print(f"{name:<12}{direct:>11.0f}{hopped:>9.0f}{inline_rate:>10.0f}{hop_rate:>10.0f}")
    db.dispose()


if __name__ == "__main__":
    main()
