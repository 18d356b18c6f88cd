"""Where a server's connections landed, read from the outside through /proc
(Linux): for the tests of `serve --workers N` and bench/bench_spread.py."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

ESTABLISHED, LISTEN = "01", "0A"
# A request every process answers at once without the database (405, JSON).
NO_DATABASE_REQUEST = b"PUT /api/v2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"

Opened = list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]


def tcp_table() -> dict[int, tuple[str, int]]:
    """Socket inode -> (state, local port), from /proc/net/tcp and tcp6."""
    table = {}
    for name in ("tcp", "tcp6"):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            table[int(fields[9])] = (fields[3], int(fields[1].rsplit(":", 1)[1], 16))
    return table


def socket_inodes(pid: int) -> list[int]:
    inodes = []
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.append(int(target[8:-1]))
    except OSError:  # the process is gone
        pass
    return inodes


def children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def connections_by_process(parent: int, port: int) -> dict[int, int]:
    """For each child of `parent` listening on `port`: its ESTABLISHED
    connections on that port (the server side of each, which it accepted)."""
    table = tcp_table()
    counts = {}
    for child in children(parent):
        states = [table.get(inode) for inode in socket_inodes(child)]
        if (LISTEN, port) in states:
            counts[child] = states.count((ESTABLISHED, port))
    return counts


async def open_burst(port: int, count: int) -> tuple[Opened, list[bytes]]:
    """`count` keep-alive connections opened at once, each answered once; the
    connections and the status lines of their answers."""
    opened = await asyncio.gather(
        *(asyncio.open_connection("127.0.0.1", port) for _ in range(count))
    )
    for _, writer in opened:
        writer.write(NO_DATABASE_REQUEST)
    answers = await asyncio.gather(*(reader.readuntil(b"\r\n\r\n") for reader, _ in opened))
    return opened, [answer.split(b"\r\n", 1)[0] for answer in answers]


async def spread_of_burst(parent: int, port: int, count: int) -> tuple[dict[int, int], list[bytes]]:
    """Open a burst, count where its connections landed, close them.  The count
    is read again if it misses some: /proc/net/tcp is read in pieces, and rows
    can be skipped while other programs open and close connections."""
    opened, status_lines = await open_burst(port, count)
    try:
        for _ in range(20):
            spread = connections_by_process(parent, port)
            if sum(spread.values()) == count:
                break
            await asyncio.sleep(0.1)
        return spread, status_lines
    finally:
        for _, writer in opened:
            writer.close()
