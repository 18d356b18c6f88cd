"""A second `smmpanel demo` (or `serve`) never harms the one running: the port and
the demo's file are checked before anything is touched, with real processes."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
from pathlib import Path

import httpx

from smmpanel.server import free_port
from tests.e2e.processes import SMMPANEL, process, smmpanel_env, wait_for, wait_http

DEMO_FILE = "smmpanel-demo.db"


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """One smmpanel command in tmp_path, to completion."""
    env = smmpanel_env(f"sqlite:///{tmp_path / 'not-used.db'}")
    return subprocess.run(
        [*SMMPANEL, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )


def assert_refused(done: subprocess.CompletedProcess[str], message: str) -> None:
    """One `Error:` line on stderr, a non-zero exit, no traceback, nothing announced."""
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stderr.startswith("Error: "), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert message in done.stderr
    assert "ready" not in done.stdout and "serving" not in done.stdout, done.stdout


def printed_key(log: Path) -> str | None:
    lines = log.read_text().splitlines()
    marker = "API key of the demo account:"
    if marker in lines and lines.index(marker) + 1 < len(lines):
        return lines[lines.index(marker) + 1].strip()
    return None


def balance(port: int, key: str) -> object:
    api = f"http://127.0.0.1:{port}/api/v2"
    return httpx.post(api, data={"key": key, "action": "balance"}, timeout=10).json()


def test_a_second_demo_leaves_the_running_demo_and_its_database_alone(tmp_path: Path) -> None:
    # Two full demo set-ups and three refused starts, each a fresh process importing
    # the panel: ~20 s on an idle machine, twice that on a loaded one.
    port, other_port = free_port(), free_port()
    env = smmpanel_env(f"sqlite:///{tmp_path / 'not-used.db'}")
    log = tmp_path / "first-demo.log"
    with process(env, "demo", "--port", str(port), log=log, cwd=tmp_path):
        key = wait_for(lambda: printed_key(log), what="the first demo's key")
        wait_http(f"http://127.0.0.1:{port}/healthz")
        database = tmp_path / DEMO_FILE
        inode = database.stat().st_ino
        assert balance(port, key) == {"balance": "100.00000", "currency": "USD"}

        # The same port: refused before the database is touched.
        assert_refused(run(tmp_path, "demo", "--port", str(port)), f"port {port} on 127.0.0.1")
        # Another port, same directory: the first demo's lock on its file refuses it.
        assert_refused(run(tmp_path, "demo", "--port", str(other_port)), "another demo is running")

        # The first demo still serves the same file, and its key still works.
        assert database.stat().st_ino == inode
        assert balance(port, key) == {"balance": "100.00000", "currency": "USD"}
    # The lock goes with the process: a demo started afterwards recreates the file.
    again = run(tmp_path, "demo", "--no-serve")
    assert again.returncode == 0, again.stderr
    assert "smmpanel demo is ready" in again.stdout


def test_the_demo_never_deletes_a_database_another_process_has_open(tmp_path: Path) -> None:
    database = tmp_path / DEMO_FILE
    with sqlite3.connect(database) as kept_open:
        kept_open.execute("CREATE TABLE precious (value TEXT)")
        kept_open.execute("INSERT INTO precious VALUES ('still here')")
        kept_open.commit()
        assert_refused(run(tmp_path, "demo", "--no-serve"), f"is open in process {os.getpid()}")
        assert kept_open.execute("SELECT value FROM precious").fetchall() == [("still here",)]
    assert database.exists()


def test_serve_on_a_port_in_use_says_so_and_touches_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        url = f"sqlite:///{tmp_path / 'panel.db'}"
        done = run(tmp_path, "--database-url", url, "serve", "--port", str(port))
        assert_refused(done, f"port {port} on 127.0.0.1 is in use")
        assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "panel.db").exists()  # nothing migrated, nothing created


def test_serve_announces_its_address_once_it_is_bound(tmp_path: Path) -> None:
    port = free_port()
    env = smmpanel_env(f"sqlite:///{tmp_path / 'panel.db'}")
    log = tmp_path / "serve.log"
    with process(env, "serve", "--port", str(port), log=log):
        wait_for(lambda: "serving" in log.read_text(), what="serving")
        # Announced means bound: the port is taken already, whatever uvicorn is doing.
        with socket.socket() as probe, socket.socket() as rival:
            rival.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                rival.bind(("127.0.0.1", port))
                bound_elsewhere = False
            except OSError:
                bound_elsewhere = True
            assert bound_elsewhere
            probe.settimeout(10)
            probe.connect(("127.0.0.1", port))
        wait_http(f"http://127.0.0.1:{port}/healthz")
    assert f"serving http://127.0.0.1:{port}/api/v2" in log.read_text()
