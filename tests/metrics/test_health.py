"""/healthz: 200 when the database answers, its schema is the code's and a
worker beat recently; 503 naming what failed otherwise."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from smmpanel.api_v2.app import create_app
from smmpanel.db import Database
from smmpanel.jobs.heartbeat import record_heartbeat
from smmpanel.jobs.models import WorkerHeartbeat
from smmpanel.schema import alembic_config, upgrade_schema
from smmpanel.server import serve_in_thread
from smmpanel.timeutil import utcnow
from smmpanel.worker import build_worker
from tests.e2e.processes import wait_for


def _health(url: str) -> tuple[int, dict[str, Any]]:
    response = httpx.get(f"{url}/healthz", timeout=30)
    assert response.headers["content-type"].split(";")[0] == "application/json"
    body: dict[str, Any] = response.json()
    return response.status_code, body


def _healthy(url: str) -> dict[str, Any] | None:
    status, body = _health(url)
    return body if status == 200 else None


def test_healthy_when_a_worker_runs(db: Database) -> None:
    stop = threading.Event()
    worker = build_worker(db, name="healthy-worker", poll_interval=0.05)
    thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        with serve_in_thread(create_app(db)) as url:
            # The worker's loop writes its heartbeat as it starts.
            body = wait_for(lambda: _healthy(url), timeout=20)
    finally:
        stop.set()
        thread.join(10)
    head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["migrations"] == {"ok": True, "database": head, "code": head}
    assert body["checks"]["worker"]["ok"] is True
    assert 0 <= body["checks"]["worker"]["heartbeat_age_seconds"] < 20
    with db.read() as session:
        assert session.scalars(select(WorkerHeartbeat.name)).all() == ["healthy-worker"]


def test_a_panel_where_no_worker_ever_ran_says_so(db: Database) -> None:
    with serve_in_thread(create_app(db)) as url:
        status, body = _health(url)
    assert status == 503
    assert body["status"] == "failing"
    assert body["checks"]["database"]["ok"] and body["checks"]["migrations"]["ok"]
    assert body["checks"]["worker"] == {
        "ok": False,
        "detail": "no worker has ever run on this database: start `smmpanel worker`",
    }


def test_a_stale_heartbeat_fails(db: Database) -> None:
    record_heartbeat(db, worker="gone", started_at=utcnow())
    with db.write() as session:
        beat = session.get(WorkerHeartbeat, "gone")
        assert beat is not None
        beat.beat_at = utcnow() - timedelta(seconds=600)
    with serve_in_thread(create_app(db)) as url:
        status, body = _health(url)
    assert status == 503
    worker = body["checks"]["worker"]
    assert worker["ok"] is False and worker["heartbeat_age_seconds"] >= 600
    assert "no worker heartbeat for" in worker["detail"]


@contextmanager
def _one_step_behind(db: Database) -> Iterator[str]:
    """The database migrated one revision less than the code's head (restored
    after: PostgreSQL's test database serves the next tests too)."""
    config = alembic_config(db.url)
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    assert head is not None
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)
    engine = create_engine(db.url, poolclass=NullPool)
    db.dispose()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, previous)
        yield previous
    finally:
        engine.dispose()
        db.dispose()
        upgrade_schema(db)


def test_migrations_behind_fail(db: Database) -> None:
    record_heartbeat(db, worker="w", started_at=utcnow())
    with _one_step_behind(db) as previous, serve_in_thread(create_app(db)) as url:
        status, body = _health(url)
    assert status == 503
    migrations = body["checks"]["migrations"]
    assert migrations["ok"] is False and migrations["database"] == previous
    assert migrations["code"] != previous
    assert "smmpanel db upgrade" in migrations["detail"]
    assert body["checks"]["database"] == {"ok": True}


def test_database_down() -> None:
    # Nothing listens on port 1: the connection is refused at once.
    down = Database("postgresql://postgres@127.0.0.1:1/smmpanel", busy_timeout=2)
    try:
        with serve_in_thread(create_app(down)) as url:
            status, body = _health(url)
            scraped = httpx.get(f"{url}/metrics", timeout=30)
    finally:
        down.dispose()
    assert status == 503
    assert body["checks"]["database"] == {"ok": False, "detail": "unreachable (OperationalError)"}
    assert body["checks"]["worker"]["ok"] is False
    # /metrics still answers, with what the process knows and the database marked down.
    assert scraped.status_code == 200
    assert "smmpanel_metrics_db_up 0.0" in scraped.text
    assert "127.0.0.1:1" not in scraped.text and "postgres" not in body["checks"]["database"]
