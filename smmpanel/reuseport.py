"""A listening socket per process for `smmpanel serve --workers N` (Linux SO_REUSEPORT).

uvicorn's own `workers=N` shares one listening socket between its processes: the
process that wakes first for a burst of new connections accepts every one that is
waiting, and about one benchmark run in four or five measured one process while
two ran.  With a socket of its own per process, bound with SO_REUSEPORT, the
kernel spreads new connections over the listening sockets by a hash of their
addresses.

The parent binds each process's socket but does not listen on it: the process
does, once its app is loaded (asyncio's create_server calls listen()), so no
connection is ever queued for a process that is still starting.  A process that
dies takes its socket with it (the parent closes its copy and binds a fresh one
for the replacement): new connections go to the others meanwhile.

This module imports nothing of the panel: it knows sockets and uvicorn only.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Process

logger = logging.getLogger("uvicorn.error")

LISTEN = "0A"  # the LISTEN state in /proc/net/tcp
# How long a new process may take to load the app before it must answer the
# health check (uvicorn's is 5 s; loading the panel takes longer than that on
# a busy machine, and a process killed for it starts again from nothing).
START_SECONDS = 60.0
PROC_NET = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))


def reuseport_supported() -> bool:
    """SO_REUSEPORT that spreads connections, abstract Unix sockets and /proc to
    check the port with: Linux.  (BSDs have the option, but until recently gave
    every connection to the last socket bound.)"""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


class PortGroup:
    """The sockets of one `serve --workers N` on host:port.

    Raises OSError(EADDRINUSE) when the port is taken:
    - by a program that bound it without SO_REUSEPORT: our bind fails;
    - by another `serve --workers N` (which the kernel would let share the port,
      the same user setting SO_REUSEPORT): each holds, for its whole life, an
      abstract Unix socket named after the port, which only one process can bind
      (released by the kernel when the process ends, even killed);
    - by another program listening with SO_REUSEPORT: it is seen in /proc/net/tcp.

    IPPROTO_TCP, not proto 0: accepted sockets inherit the proto, and asyncio
    sets TCP_NODELAY only on IPPROTO_TCP ones (see server.bind_listener)."""

    def __init__(self, host: str, port: int, count: int) -> None:
        self.host = host
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sockets: list[socket.socket] = []
        self.guard = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            first = self._bind(port)
            self.port: int = first.getsockname()[1]
            self.guard.bind(f"\0smmpanel-serve-port-{self.port}")
            self.sockets.append(first)
            self.sockets += [self._bind(self.port) for _ in range(count - 1)]
            ours = {os.fstat(s.fileno()).st_ino for s in self.sockets}
            # The bound address, numeric even when host is a name (localhost).
            if others_listening(first.getsockname()[0], self.port, ours):
                raise OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))
        except OSError:
            self.close()
            raise

    def _bind(self, port: int) -> socket.socket:
        sock = socket.socket(self.family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((self.host, port))
        except OSError:
            sock.close()
            raise
        sock.set_inheritable(True)
        return sock

    def fresh(self) -> socket.socket:
        """Another socket on the port, bound, not listening yet."""
        return self._bind(self.port)

    def replace(self, index: int, sock: socket.socket) -> None:
        """Give process `index` a new socket, closing its old one: the socket of
        a process that ended would keep listening in the parent, and new
        connections would wait in its backlog for nobody."""
        self.sockets[index].close()
        self.sockets[index] = sock

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.guard.close()


def others_listening(host: str, port: int, ours: set[int]) -> list[int]:
    """Inodes of the sockets, not in `ours`, listening on `port` at an address
    that overlaps `host` (the same one, or either of them a wildcard), as
    /proc/net/tcp and tcp6 show them (this network namespace, every user)."""
    address = _normal(ipaddress.ip_address(host))
    found = []
    for table in PROC_NET:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:  # no IPv6 in this kernel
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            hex_address, hex_port = local.split(":")
            if state != LISTEN or int(hex_port, 16) != port or inode in ours:
                continue
            if _overlap(address, _normal(_proc_address(hex_address))):
                found.append(inode)
    return found


def _proc_address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """/proc/net/tcp's address: 32-bit words in the host's byte order."""
    raw = bytes.fromhex(hex_address)
    words = [raw[i : i + 4] for i in range(0, len(raw), 4)]
    if sys.byteorder == "little":
        words = [word[::-1] for word in words]
    return ipaddress.ip_address(b"".join(words))


def _normal(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _overlap(
    a: ipaddress.IPv4Address | ipaddress.IPv6Address,
    b: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> bool:
    # A wildcard of either family may cover the other (IPv6 sockets are
    # dual-stack by default): counted as overlapping, to be safe.
    return a == b or a.is_unspecified or b.is_unspecified


class Supervisor:
    """uvicorn's worker processes, process i serving on group.sockets[i] alone.

    As uvicorn's own supervisor does: Ctrl+C or SIGTERM stops every process
    gracefully (each finishes its requests), a process that dies or stops
    answering the health check is replaced, one that fails to start stops them
    all, and SIGHUP replaces each process in turn (the new one serving before
    the old one stops)."""

    def __init__(self, config: uvicorn.Config, group: PortGroup) -> None:
        self.config = config
        self.group = group
        self.processes: list[Process] = []
        self.started: dict[Process, float] = {}
        self.should_exit = threading.Event()
        # Signal handlers only queue: setting the Event inside one could deadlock
        # with the main thread waiting on it.
        self.signals: list[int] = []

    def run(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda sig, frame: self.signals.append(sig))
        logger.info("Started parent process [%d], a socket per process", os.getpid())
        self.processes = [self._start(sock) for sock in self.group.sockets]
        while not self.should_exit.wait(0.5):
            self._handle_signals()
            self._keep_alive()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.join()
        logger.info("Stopping parent process [%d]", os.getpid())

    def _start(self, sock: socket.socket) -> Process:
        process = Process(self.config, [sock])
        process.start()
        self.started[process] = time.monotonic()
        return process

    def _healthy(self, process: Process) -> bool:
        """Alive, and answering the health check unless it is still starting."""
        if not process.process.is_alive():
            return False
        if time.monotonic() - self.started.get(process, 0.0) < START_SECONDS:
            return True
        self.started.pop(process, None)
        return process.is_alive(timeout=self.config.timeout_worker_healthcheck)

    def _handle_signals(self) -> None:
        while self.signals:
            sig = self.signals.pop(0)
            if sig == signal.SIGHUP:
                logger.info("Received SIGHUP, restarting processes.")
                self._restart_all()
            else:
                logger.info("Received %s, exiting.", signal.Signals(sig).name)
                self.should_exit.set()

    def _keep_alive(self) -> None:
        for index, process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if self._healthy(process):
                continue
            self.started.pop(process, None)
            process.kill()  # dead, or hung: not answering the health check
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # It never served: the app or the database is broken, and every
                # replacement would fail the same way.
                logger.error("Child process [%s] failed to start, stopping.", process.pid)
                self.should_exit.set()
                return
            logger.info("Child process [%s] died", process.pid)
            self.group.replace(index, self.group.fresh())
            self.processes[index] = self._start(self.group.sockets[index])

    def _restart_all(self) -> None:
        for index, old in enumerate(self.processes):
            sock = self.group.fresh()
            new = self._start(sock)
            if not new.wait_until_ready(START_SECONDS, self.should_exit):
                self.started.pop(new, None)
                new.kill()
                new.join()
                sock.close()
                logger.error("New child process [%s] was not ready; restart aborted.", new.pid)
                return
            old.terminate()
            old.join()
            self.started.pop(old, None)
            self.group.replace(index, sock)
            self.processes[index] = new
