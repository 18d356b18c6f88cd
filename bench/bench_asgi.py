"""In-process cost of an /api/v2 call through the panel's ASGI app, without
HTTP or sockets: CPU microseconds per call of `balance` (SQLite, answered on
the event loop), against a bare Starlette route that parses the same body,
measured in the same run.

    python bench/bench_asgi.py [--calls 5000] [--rounds 5]

Three ways in, each the best of --rounds rounds, taken in turns:
- bare: a Starlette app of one route that reads the form and answers JSON;
- router: the panel's app through Starlette's middleware and router (what
  every /api/v2 call went through before PanelApp);
- direct: the panel's app as served (PanelApp hands /api/v2 to the endpoint).
The machine's noise moves all three alike; read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from smmpanel.accounts.service import create_account
from smmpanel.api_v2.app import create_app
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.ledger.funding import fund_account
from smmpanel.schema import upgrade_schema


async def _bare(request: Request) -> JSONResponse:
    form = await request.form()
    return JSONResponse({"balance": "1.00", "currency": "USD", "key": str(form["key"])[:4]})


def _scope(body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v2",
        "raw_path": b"/api/v2",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }


async def _calls(app: Any, body: bytes, count: int) -> float:
    """CPU seconds per call of `count` calls of `app` with `body`."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    started = time.process_time()
    for _ in range(count):
        await app(_scope(body), receive, send)
    took = (time.process_time() - started) / count
    last = sent[-1]["body"] if sent else b""
    if sent[0].get("status") != 200 or b"balance" not in last:
        raise RuntimeError(f"unexpected answer: {sent[0]!r} {last!r}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    db = Database(f"sqlite:///{tempfile.mkdtemp(prefix='smmpanel-bench-')}/b.db")
    upgrade_schema(db)
    key = create_account(db, username="bench").api_key
    fund_account(db, username="bench", amount="1000")
    body = urlencode({"key": key, "action": "balance"}).encode()
    # Rate limits on, as served, with buckets no run here fills.
    limits = Settings(
        rate_limits=True,
        redis_url="",
        rate_limit_key="1000000/second",
        rate_limit_ip="1000000/second",
    )
    panel = create_app(db, settings=limits)
    bare = Starlette(routes=[Route("/api/v2", _bare, methods=["POST"])])

    async def routed(scope: Any, receive: Any, send: Any) -> None:
        await Starlette.__call__(panel, scope, receive, send)

    ways = {"bare": bare, "router": routed, "direct": panel}
    best = dict.fromkeys(ways, float("inf"))

    async def run() -> None:
        for app in ways.values():
            await _calls(app, body, 200)  # warm-up
        for _ in range(options.rounds):
            for name, app in ways.items():
                best[name] = min(best[name], await _calls(app, body, options.calls))

    asyncio.run(run())
    print(f"balance, in-process, {options.calls} calls x {options.rounds} rounds (best)")
    print(f"{'way in':<8}{'CPU us/call':>12}{'vs bare':>9}")
    for name, seconds in best.items():
        print(f"{name:<8}{seconds * 1e6:>12.1f}{seconds / best['bare']:>8.2f}x")
    db.dispose()


if __name__ == "__main__":
    main()
