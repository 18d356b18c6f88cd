"""How `smmpanel serve --workers N` shares a burst of new connections out.

    python bench/bench_spread.py [--workers 2] [--connections 16] [--bursts 40]

Starts `serve --workers N` on a temporary SQLite database, then, again and
again, opens a burst of keep-alive connections at once (as wrk does when it
starts), has each answered once, and counts from /proc (Linux) how many each
process accepted.  Prints every burst's counts and how many bursts one process
took whole.  Unlike requests per second, the counts do not depend on what else
the machine is doing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smmpanel.secretbox import new_key
from smmpanel.server import free_port
from tests.e2e.proc_sockets import connections_by_process, spread_of_burst


async def burst(parent: int, port: int, connections: int) -> list[int]:
    """How many of a burst's connections each process took, largest first."""
    counts, _ = await spread_of_burst(parent, port, connections)
    return sorted(counts.values(), reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16, help="per burst (wrk's -c)")
    parser.add_argument("--bursts", type=int, default=40)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="smmpanel-spread-"))
    # A throwaway secret key unless one is set: the database is new and empty.
    env = {
        "SMMPANEL_SECRET_KEY": new_key(),
        **os.environ,
        "SMMPANEL_DATABASE_URL": f"sqlite:///{work / 'spread.db'}",
    }
    port = free_port()
    smmpanel = [sys.executable, "-c", "from smmpanel.cli import main; main()"]
    args = [*smmpanel, "serve", "--port", str(port), "--workers", str(options.workers)]
    serve = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(connections_by_process(serve.pid, port)) < options.workers:
            if time.monotonic() > deadline or serve.poll() is not None:
                raise SystemExit("serve did not start")
            time.sleep(0.2)
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=60)
        time.sleep(1)  # every process past its start-up
        whole = 0
        shares: Counter[int] = Counter()
        for number in range(options.bursts):
            counts = asyncio.run(burst(serve.pid, port, options.connections))
            whole += counts[0] == options.connections
            shares[counts[0]] += 1
            print(f"burst {number + 1:>3}: {'/'.join(map(str, counts))}")
        print(
            f"{options.bursts} bursts of {options.connections} connections, "
            f"{options.workers} processes: {whole} taken whole by one process; "
            f"largest share per burst: {dict(sorted(shares.items()))}"
        )
    finally:
        serve.terminate()
        serve.wait(30)


if __name__ == "__main__":
    main()
