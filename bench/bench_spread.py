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

ESTABLISHED, LISTEN = "01", "0A"


def tcp_table() -> dict[int, tuple[str, int]]:
    """Socket inode -> (state, local port), from /proc/net/tcp and tcp6."""
    table = {}
    for name in ("tcp", "tcp6"):
        path = Path("/proc/net") / name
        if path.exists():
            for line in path.read_text().splitlines()[1:]:
                fields = line.split()
                table[int(fields[9])] = (fields[3], int(fields[1].rsplit(":", 1)[1], 16))
    return table


def sockets_of(pid: int) -> list[int]:
    found = []
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                found.append(int(target[8:-1]))
    except OSError:
        pass
    return found


def spread(parent: int, port: int) -> dict[int, int]:
    """Each child of `parent` listening on `port`: its connections on the port."""
    table = tcp_table()
    counts = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid == parent:
            states = [table.get(inode) for inode in sockets_of(int(stat.parent.name))]
            if (LISTEN, port) in states:
                counts[int(stat.parent.name)] = states.count((ESTABLISHED, port))
    return counts


async def burst(parent: int, port: int, connections: int) -> list[int]:
    opened = await asyncio.gather(
        *(asyncio.open_connection("127.0.0.1", port) for _ in range(connections))
    )
    try:
        for _, writer in opened:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await asyncio.gather(*(reader.readuntil(b"\r\n\r\n") for reader, _ in opened))
        for _ in range(20):  # /proc/net/tcp is read in pieces: read again if rows slipped
            counts = spread(parent, port)
            if sum(counts.values()) == connections:
                break
            await asyncio.sleep(0.05)
        return sorted(counts.values(), reverse=True)
    finally:
        for _, writer in opened:
            writer.close()


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
        while len(spread(serve.pid, port)) < options.workers:
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
