"""A TCP proxy that delays every chunk it forwards: a database server on
another machine, for benchmarks on one.

    python bench/delay_proxy.py --port 15432 --target 127.0.0.1:5432 --delay-ms 0.25

Each chunk is forwarded `--delay-ms` after it arrived, in order, both ways: a
round trip through it takes twice the delay more (0.25 ms each way: 0.5 ms,
a server in the same data centre).  Point a benchmark's --database-url at
--port.  Two threads a direction (one reads, one sleeps until each chunk is
due and writes it: asyncio's timers wake up to a millisecond late), so it
costs CPU of its own: compare runs through it with each other, not with runs
without it.  Loopback only.
"""

from __future__ import annotations

import argparse
import queue
import socket
import threading
import time


def _forward(source: socket.socket, target: socket.socket, delay: float) -> None:
    due: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()

    def write() -> None:
        while True:
            at, chunk = due.get()
            wait = at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                if not chunk:  # the other side is done: pass its end on
                    target.shutdown(socket.SHUT_WR)
                    return
                target.sendall(chunk)
            except OSError:
                return

    threading.Thread(target=write, daemon=True).start()
    while True:
        try:
            chunk = source.recv(65536)
        except OSError:
            chunk = b""
        due.put((time.monotonic() + delay, chunk))
        if not chunk:
            return


def _serve(port: int, target: tuple[str, int], delay: float) -> None:
    listener = socket.create_server(("127.0.0.1", port))
    while True:
        client, _ = listener.accept()
        upstream = socket.create_connection(target)
        for pair in ((client, upstream), (upstream, client)):
            for sock in pair:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=_forward, args=(*pair, delay), daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=15432)
    parser.add_argument("--target", default="127.0.0.1:5432")
    parser.add_argument("--delay-ms", type=float, default=0.25)
    options = parser.parse_args()
    host, _, target_port = options.target.rpartition(":")
    if host not in ("127.0.0.1", "localhost"):
        parser.error("the proxy forwards to loopback only")
    _serve(options.port, (host, int(target_port)), options.delay_ms / 1000)


if __name__ == "__main__":
    main()
