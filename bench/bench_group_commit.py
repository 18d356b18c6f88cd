"""`add` by group commit: orders per second and the sizes of the batches.

    python bench/bench_group_commit.py [--seconds 5] [--concurrency 32]
                                       [--database-url URL] [--profile]

Serves the panel's app with uvicorn in this process (one thread, as one
`smmpanel serve` process runs it) and loads it with `add` calls, each with a
link of its own, from `wrk` when installed (else Python client threads), then
prints orders per second, this process's CPU time per order (the server's
alone under wrk) and the batch sizes the committer counted.  `--profile` runs
the batch thread under cProfile and prints where its time went.
bench_api.py measures the same `add` through `smmpanel serve` against a bare
baseline; this one reads the committer itself.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_api import _load, _rate_limits, _wrk

from smmpanel.api_v2 import group_add
from smmpanel.api_v2.app import ApiEndpoint, create_app
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.secretbox import new_key
from smmpanel.server import serve_in_thread


def _prepare(url: str) -> str:
    """A migrated database with one service and one funded account; its key."""
    env = {**os.environ, "SMMPANEL_DATABASE_URL": url, "SMMPANEL_SECRET_KEY": new_key()}
    cli = [sys.executable, "-c", "from smmpanel.cli import main; main()"]
    for args in (
        ["db", "upgrade"],
        [
            "services",
            "add",
            "--name",
            "Bench",
            "--type",
            "Default",
            "--category",
            "Bench",
            "--rate",
            "0.01",
            "--min",
            "1",
            "--max",
            "1000000",
        ],
    ):
        subprocess.run([*cli, *args], env=env, check=True, capture_output=True)
    made = subprocess.run(
        [*cli, "users", "add", "bench"], env=env, check=True, capture_output=True, text=True
    )
    subprocess.run(
        [*cli, "users", "fund", "bench", "10000000"], env=env, check=True, capture_output=True
    )
    return made.stdout.strip().splitlines()[-1]


def _profiled(profile: cProfile.Profile) -> Any:
    """batch_outcomes under `profile` (one batch runs at a time)."""
    plain = group_add.batch_outcomes

    def run(*args: Any) -> Any:
        profile.enable()
        try:
            return plain(*args)
        finally:
            profile.disable()

    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--profile", action="store_true")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="smmpanel-bench-gc-"))
    url = options.database_url or f"sqlite:///{work / 'bench.db'}"
    key = _prepare(url)
    os.environ.update(_rate_limits("on"))
    settings = Settings()
    db = Database(url, busy_timeout=settings.db_busy_timeout_seconds)
    app = create_app(db, settings=settings)
    endpoint = next(r.endpoint for r in app.routes if isinstance(r.endpoint, ApiEndpoint))
    profile = cProfile.Profile()
    if options.profile:
        group_add.batch_outcomes = _profiled(profile)  # type: ignore[assignment]
    fields = {"key": key, "action": "add", "service": "1", "quantity": "10"}
    with serve_in_thread(app) as base:
        target = f"{base}/api/v2"
        cpu, started = time.process_time(), time.monotonic()
        if shutil.which("wrk"):
            body = "&".join(f"{k}={quote(v)}" for k, v in fields.items())
            body += "&link=" + quote("https://example.com/", safe="") + "{n}"
            rate, made = _wrk(target, body, options.seconds, options.concurrency, work)
            tool = "wrk"
        else:
            rate, made = _load(
                target,
                lambda n: {**fields, "link": f"https://example.com/{n}"},
                options.seconds,
                options.concurrency,
            )
            tool = "python threads"
        cpu = time.process_time() - cpu
        elapsed = time.monotonic() - started
    db.dispose()
    sizes = endpoint.adds.batch_sizes
    print(
        f"backend={url.split(':', 1)[0]} concurrency={options.concurrency} load={tool} "
        f"seconds={elapsed:.1f}"
    )
    print(f"orders/s {rate:.0f}  orders {made}  server CPU us/order {cpu / max(made, 1) * 1e6:.0f}")
    print(f"batches: {sizes.summary()}")
    if options.profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(35)


if __name__ == "__main__":
    main()
