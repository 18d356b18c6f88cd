"""A real PostgreSQL streaming replica on loopback, set up once per module.

The test's own primary cluster (initdb into a temporary directory, on a free
port of 127.0.0.1, wal_level=replica, trust authentication for loopback and
replication), a standby made from it with `pg_basebackup -R`, started on
another free port, and the panel's schema migrated on the primary and replayed
on the standby.  Both are stopped with `pg_ctl stop` whatever happens.  The
tests are skipped only when PostgreSQL's server binaries are missing (or
SMMPANEL_TEST_POSTGRES=skip); run as root, the servers run as `postgres`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from smmpanel.db import Database
from smmpanel.schema import upgrade_schema
from smmpanel.server import free_port

START_TIMEOUT = 60  # seconds pg_ctl waits for a server to accept connections
REPLAY_TIMEOUT = 30.0


def server_binaries() -> Path | None:
    """The newest /usr/lib/postgresql/N/bin (Debian's layout) with the server
    tools, else the directory of an initdb on PATH."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2] or 0)
    )
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for directory in reversed(candidates):
        if all((Path(directory) / tool).exists() for tool in ("initdb", "pg_ctl", "pg_basebackup")):
            return Path(directory)
    return None


@dataclass
class Cluster:
    """The primary and its standby: their URLs and how to drive the standby."""

    bindir: Path
    root: Path
    primary_url: str
    standby_url: str

    @property
    def standby_dir(self) -> Path:
        return self.root / "standby"

    def run(self, tool: str, *args: str) -> None:
        _run([str(self.bindir / tool), *args])

    def query(self, url: str, sql: str) -> object:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                return connection.execute(text(sql)).scalar()
        finally:
            engine.dispose()

    def pause_replay(self) -> None:
        self.query(self.standby_url, "SELECT pg_wal_replay_pause()")
        deadline = time.monotonic() + REPLAY_TIMEOUT
        while self.query(self.standby_url, "SELECT pg_get_wal_replay_pause_state()") != "paused":
            assert time.monotonic() < deadline, "the standby did not pause its replay"
            time.sleep(0.05)

    def resume_replay(self) -> None:
        self.query(self.standby_url, "SELECT pg_wal_replay_resume()")
        self.wait_for_replay()

    def wait_for_replay(self) -> None:
        """Until the standby has replayed everything the primary has written."""
        # The insert position: it includes commits not yet written out.
        target = self.query(self.primary_url, "SELECT pg_current_wal_insert_lsn()::text")
        sql = f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
        deadline = time.monotonic() + REPLAY_TIMEOUT
        while not self.query(self.standby_url, sql):
            assert time.monotonic() < deadline, "the standby did not catch up"
            time.sleep(0.05)

    def stop_standby(self) -> None:
        self.run("pg_ctl", "stop", "-D", str(self.standby_dir), "-m", "fast", "-w")

    def start_standby(self) -> None:
        log = str(self.root / "standby.log")
        self.run("pg_ctl", "start", "-D", str(self.standby_dir), "-l", log, "-w")
        self.run("pg_ctl", "status", "-D", str(self.standby_dir))


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL's tools refuse to run as root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str]) -> None:
    done = subprocess.run(
        _as_postgres(command), capture_output=True, text=True, timeout=START_TIMEOUT + 30
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}")


def _configure_primary(data: Path, port: int, sockets: Path) -> None:
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'{sockets}'",
        "wal_level": "replica",
        "max_wal_senders": "4",
        "hot_standby": "on",
        # A throwaway cluster: no fsync, small memory.
        "fsync": "off",
        "full_page_writes": "off",
        "shared_buffers": "16MB",
        "max_connections": "60",
    }
    with (data / "postgresql.conf").open("a") as conf:
        conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
    with (data / "pg_hba.conf").open("a") as hba:
        hba.write("host all all 127.0.0.1/32 trust\n")
        hba.write("host replication all 127.0.0.1/32 trust\n")


def _url(port: int) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if os.environ.get("SMMPANEL_TEST_POSTGRES", "").lower() == "skip":
        pytest.skip("PostgreSQL is skipped (SMMPANEL_TEST_POSTGRES=skip)")
    bindir = server_binaries()
    if bindir is None:
        pytest.skip(
            "PostgreSQL's server binaries (initdb, pg_ctl, pg_basebackup) were not found "
            "under /usr/lib/postgresql/*/bin or on PATH"
        )
    # In /tmp itself: the postgres user must reach it, and pytest's own temporary
    # directories are private to the user running the tests.
    root = Path(tempfile.mkdtemp(prefix="smmpanel-replica-"))
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group=pwd.getpwnam("postgres").pw_gid)
    primary, standby = root / "primary", root / "standby"
    primary_port, standby_port = free_port(), free_port()
    started: list[Path] = []
    try:
        cluster = Cluster(bindir, root, _url(primary_port), _url(standby_port))
        cluster.run(
            "initdb", "-D", str(primary), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip
        _configure_primary(primary, primary_port, root)
        cluster.run("pg_ctl", "start", "-D", str(primary), "-l", str(root / "primary.log"), "-w")
        started.append(primary)
        cluster.run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres",
            "-D", str(standby), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync",
        )  # fmt: skip
        # The standby's own port (a later line of its configuration wins).
        _run(["sh", "-c", f"echo 'port = {standby_port}' >> {standby}/postgresql.auto.conf"])
        cluster.start_standby()
        started.append(standby)
        assert cluster.query(cluster.standby_url, "SELECT pg_is_in_recovery()") is True
        migrated = Database(cluster.primary_url)
        upgrade_schema(migrated)
        migrated.dispose()
        cluster.wait_for_replay()
        yield cluster
    finally:
        for data in reversed(started):
            subprocess.run(
                _as_postgres([str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate"]),
                capture_output=True,
                timeout=START_TIMEOUT,
            )
        shutil.rmtree(root, ignore_errors=True)
