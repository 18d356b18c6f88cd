"""What the rate limits cost a call, without HTTP: `admit` + `settle` of one
`balance` call, in the event loop, one client after another.

    python bench/bench_ratelimit.py [--calls 20000] [--clients 100] [--rounds 5]
                                    [--redis-url URL]

In-memory buckets (and Redis too with --redis-url, under a key prefix of its
own, deleted afterwards), with buckets too large ever to refuse a call: the
cost of checking, not of refusing.  The best of `--rounds` rounds is shown
(the least disturbed by other work on the machine).  Compare with
`handle(balance)` of bench_handle.py: the work a call does anyway.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.requests import Request

from smmpanel.api_v2.ratelimit import rate_limits_for
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.schema import upgrade_schema

BALANCE = {"balance": "1.00000", "currency": "USD"}


async def measure(
    settings: Settings, db: Database, *, calls: int, clients: int, rounds: int
) -> list[tuple[float, float]]:
    """Microseconds per call, of wall-clock and of this process's CPU, in each round."""
    limits = rate_limits_for(settings, db)
    requests = [_request(f"10.0.{n // 250}.{n % 250}") for n in range(clients)]
    params: list[dict[str, Any]] = [{"key": f"k{n}", "action": "balance"} for n in range(clients)]
    for n in range(min(calls, 1000)):  # warm-up: buckets exist, the accounts' limits are read
        caller = await limits.admit(requests[n % clients], params[n % clients])
        await limits.settle(caller, BALANCE)
    micros = []
    for _ in range(rounds):
        started, cpu = time.perf_counter(), time.process_time()
        for n in range(calls):
            caller = await limits.admit(requests[n % clients], params[n % clients])
            assert caller.refusal is None and caller.checked
            await limits.settle(caller, BALANCE)
        wall = (time.perf_counter() - started) / calls * 1e6
        micros.append((wall, (time.process_time() - cpu) / calls * 1e6))
    return micros


def _request(ip: str) -> Request:
    return Request({"type": "http", "method": "POST", "headers": [], "client": (ip, 1)})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redis-url", default="")
    options = parser.parse_args()
    db = Database(f"sqlite:///{tempfile.mkdtemp(prefix='smmpanel-bench-')}/b.db")
    upgrade_schema(db)
    big = {"rate_limit_key": "1000000/second", "rate_limit_ip": "1000000/second"}
    stores = [("memory", Settings(rate_limits=True, redis_url="", **big))]
    prefix = f"smmpanel-bench-{uuid.uuid4().hex[:8]}"
    if options.redis_url:
        shared = Settings(rate_limits=True, redis_url=options.redis_url, redis_prefix=prefix, **big)
        stores.append(("redis", shared))
    print(f"calls={options.calls} clients={options.clients}")
    for name, settings in stores:
        rounds = asyncio.run(
            measure(
                settings, db, calls=options.calls, clients=options.clients, rounds=options.rounds
            )
        )
        wall, cpu = min(rounds)
        shown = " ".join(f"{r:.1f}" for r, _ in rounds)
        print(
            f"admit+settle, {name:<6}: {wall:7.1f} us/call, {cpu:6.1f} us of CPU (rounds: {shown})"
        )
    if options.redis_url:
        import redis

        with redis.Redis.from_url(options.redis_url) as client:
            for key in client.scan_iter(match=f"{prefix}:*"):
                client.delete(key)
    db.dispose()


if __name__ == "__main__":
    main()
