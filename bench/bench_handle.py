"""In-process throughput of the API's `handle()`: balance, add and status
without HTTP, one thread, on a fresh database.

    python bench/bench_handle.py [--calls 3000] [--database-url URL]

The database URL must name an empty database (default: a temporary SQLite
file).  `add` places real orders with a unique link each; `status` asks for
the first of them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smmpanel.accounts.service import create_account
from smmpanel.api_v2.app import handle
from smmpanel.catalog.service import ServiceSpec, create_service
from smmpanel.db import Database
from smmpanel.ledger.funding import fund_account
from smmpanel.schema import upgrade_schema


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--database-url", default="")
    options = parser.parse_args()
    url = options.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='smmpanel-bench-')}/b.db"
    db = Database(url)
    upgrade_schema(db)
    spec = ServiceSpec(
        name="Bench", type="Default", category="Bench", rate="0.01", min_quantity=1,
        max_quantity=1_000_000,
    )  # fmt: skip
    service = create_service(db, spec=spec)
    key = create_account(db, username="bench").api_key
    fund_account(db, username="bench", amount="1000000")
    made = [0]

    def body(action: str) -> dict[str, Any]:
        if action == "add":
            made[0] += 1
            link = f"https://example.com/{made[0]}"
            return {"key": key, "action": "add", "service": service, "quantity": 10, "link": link}
        if action == "status":
            return {"key": key, "action": "status", "order": "1"}
        return {"key": key, "action": action}

    print(f"backend={url.split(':', 1)[0]} calls={options.calls}")
    for action in ("balance", "add", "status"):
        for _ in range(200):  # warm-up
            handle(db, body(action))
        started = time.perf_counter()
        for _ in range(options.calls):
            answer = handle(db, body(action))
        seconds = time.perf_counter() - started
        if (b'"error"' if isinstance(answer, bytes) else "error") in answer:
            raise RuntimeError(answer)  # a status answer is its JSON bytes
        print(f"handle({action}): {options.calls / seconds:8.0f}/s")
    db.dispose()


if __name__ == "__main__":
    main()
