"""`smmpanel serve --workers 2` on Linux: a listening socket per process
(SO_REUSEPORT), so a burst of connections lands on both processes; a dead
process is replaced on its socket; a port held by anyone else is refused.

Which process holds a connection is read from the outside, through /proc: the
children of the serve process, their open sockets, and the kernel's table of
TCP connections."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from smmpanel.reuseport import reuseport_supported
from smmpanel.server import free_port
from tests.e2e.proc_sockets import (
    LISTEN,
    children,
    connections_by_process,
    spread_of_burst,
    tcp_table,
)
from tests.e2e.processes import SMMPANEL, process, smmpanel_env, wait_for, wait_http

pytestmark = pytest.mark.skipif(not reuseport_supported(), reason="SO_REUSEPORT spreads on Linux")

BURST = 32
RUNS = 5


def burst_spread(parent: int, port: int) -> dict[int, int]:
    """Where a burst of BURST connections landed; each was answered."""
    spread, status_lines = asyncio.run(spread_of_burst(parent, port, BURST))
    assert all(line == b"HTTP/1.1 405 Method Not Allowed" for line in status_lines), status_lines
    return spread


def serving(parent: int, port: int, processes: int) -> dict[int, int] | None:
    counts = connections_by_process(parent, port)
    return counts if len(counts) == processes else None


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    port = free_port()
    env = smmpanel_env(f"sqlite:///{tmp_path / 'panel.db'}")
    log = tmp_path / "serve.log"
    with process(env, "serve", "--port", str(port), "--workers", "2", log=log) as p:
        # Generous waits: on a busy machine loading the app takes a while.
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
        wait_for(lambda: serving(p.pid, port, 2), timeout=120, what="two serving processes")
        yield p, port, log


def test_a_burst_of_connections_lands_on_both_processes(
    served: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    serve, port, log = served
    # With one shared socket, one process took all 16 connections of wrk's burst
    # in about one run of four or five; with a socket each, a burst all on one
    # process has a chance of 2 in 2**32.
    for _ in range(RUNS):
        spread = burst_spread(serve.pid, port)
        assert len(spread) == 2, (spread, log.read_text())
        assert sum(spread.values()) == BURST, (spread, log.read_text())
        assert min(spread.values()) > 0, (spread, log.read_text())


def test_a_dead_process_is_replaced_on_its_socket(
    served: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    serve, port, log = served
    first, second = sorted(connections_by_process(serve.pid, port))
    os.kill(first, signal.SIGKILL)

    def replaced() -> list[int] | None:
        now = serving(serve.pid, port, 2)
        return sorted(now) if now and first not in now else None

    now = wait_for(replaced, timeout=120, what="a replacement process")
    assert second in now
    # The replacement may still be starting: its share of the burst waits in the
    # backlog of its socket, which the parent kept open.
    spread = burst_spread(serve.pid, port)
    assert sorted(spread) == now and min(spread.values()) > 0, (spread, log.read_text())
    # SIGTERM (systemd's stop) ends every process gracefully, the parent with 0.
    serve.send_signal(signal.SIGTERM)
    assert serve.wait(20) == 0
    # No process listens on the port any more: every child ended with it.
    assert (LISTEN, port) not in tcp_table().values()
    assert f"Child process [{first}] died" in log.read_text()


def test_sighup_replaces_each_process_on_a_fresh_socket(
    served: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    serve, port, log = served
    before = set(connections_by_process(serve.pid, port))
    serve.send_signal(signal.SIGHUP)

    def replaced() -> set[int] | None:
        # Two new processes serve, and the old ones ended (and were reaped).
        now = serving(serve.pid, port, 2)
        ended = not set(children(serve.pid)) & before
        return set(now) if now and ended and not set(now) & before else None

    now = wait_for(replaced, timeout=120, what="both processes replaced")
    spread = burst_spread(serve.pid, port)
    assert set(spread) == now and min(spread.values()) > 0, (spread, log.read_text())


def refused(tmp_path: Path, port: int, name: str) -> subprocess.CompletedProcess[str]:
    """`serve --workers 2` on `port`, with a database of its own that must stay
    untouched: the port is checked first."""
    database = tmp_path / f"{name}.db"
    done = subprocess.run(
        [*SMMPANEL, "serve", "--port", str(port), "--workers", "2"],
        env=smmpanel_env(f"sqlite:///{database}"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stderr == (
        f"Error: port {port} on 127.0.0.1 is in use (a panel or a demo already running?); "
        f"stop it or choose another --port\n"
    )
    assert not database.exists()
    return done


def test_a_second_serve_on_the_same_port_is_refused(
    served: tuple[subprocess.Popen[bytes], int, Path], tmp_path: Path
) -> None:
    serve, port, log = served
    # The kernel would let a second set of SO_REUSEPORT sockets in (same user):
    # the check of the port's other listeners refuses it instead.
    refused(tmp_path, port, "second")
    refused(tmp_path, port, "third")
    spread = burst_spread(serve.pid, port)
    assert sum(spread.values()) == BURST and len(spread) == 2, (spread, log.read_text())


@pytest.mark.parametrize("reuseport", [False, True])
def test_a_port_another_program_listens_on_is_refused(tmp_path: Path, reuseport: bool) -> None:
    # Without SO_REUSEPORT the kernel refuses our bind; with it, our check does.
    with socket.socket() as other:
        if reuseport:
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        refused(tmp_path, other.getsockname()[1], "panel")
