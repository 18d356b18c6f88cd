"""A loopback TCP proxy to put between the panel and its database server, and
to break on purpose:

- ``cut()``: every open connection is closed and new ones are refused (the
  server went down, or the network to it);
- ``stall()``: open connections are closed, new ones are accepted but never
  answered (a server that does not answer: connect timeouts);
- ``restore()``: forwarding again.

Loopback only: it listens on 127.0.0.1 and forwards to the address it is given.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url

FORWARD, REFUSE, STALL = "forward", "refuse", "stall"


class TcpProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        if target[0] not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the test proxy forwards to loopback only")
        self.target = target
        self.mode = FORWARD
        self.connections = 0
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._stalled: set[socket.socket] = set()
        self._closed = threading.Event()
        self._listener = self._listen(0)
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True).start()

    # --- faults -----------------------------------------------------------------

    def cut(self) -> None:
        with self._lock:
            self.mode = REFUSE
            _close_listener(self._listener)  # a closed port: "connection refused"
        self._drop_all()

    def stall(self) -> None:
        self._switch(STALL)
        self._drop_all()

    def restore(self) -> None:
        self._switch(FORWARD)
        # Connections accepted while stalled never reached the server.
        with self._lock:
            stalled, self._stalled = list(self._stalled), set()
        for sock in stalled:
            self._drop(sock)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            _close_listener(self._listener)
        self._drop_all()

    # --- plumbing -----------------------------------------------------------------

    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        return listener

    def _switch(self, mode: str) -> None:
        with self._lock:
            if self.mode == REFUSE:  # listen again, on the same port
                self._listener = self._listen(self.port)
                threading.Thread(target=self._accept_loop, daemon=True).start()
            self.mode = mode

    def _accept_loop(self) -> None:
        listener = self._listener
        while not self._closed.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by cut() or close()
            with self._lock:
                mode = self.mode
                self._sockets.add(client)
                if mode == STALL:
                    self._stalled.add(client)  # held open, never answered
                    continue
            self.connections += 1
            threading.Thread(target=self._pump, args=(client,), daemon=True).start()

    def _pump(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            self._drop(client)
            return
        with self._lock:
            self._sockets.add(upstream)
        pair = {client: upstream, upstream: client}
        try:
            while True:
                readable, _, _ = select.select(list(pair), [], [], 1.0)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        except (OSError, ValueError):
            return  # dropped by a fault, or by the other side
        finally:
            self._drop(client)
            self._drop(upstream)

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def _drop_all(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            self._drop(sock)


def _close_listener(listener: socket.socket) -> None:
    # shutdown() wakes the thread blocked in accept() (close() alone does not,
    # and the port would keep accepting).
    with contextlib.suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)
    listener.close()


@contextmanager
def proxied(database_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A proxy in front of the PostgreSQL server of `database_url`, and the URL
    that goes through it."""
    url = make_url(database_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    try:
        through = url.set(host="127.0.0.1", port=proxy.port)
        yield proxy, through.render_as_string(hide_password=False)
    finally:
        proxy.close()
