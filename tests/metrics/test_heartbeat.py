"""The worker's heartbeat: written by run_forever every `heartbeat` seconds,
between jobs too, and never by run_once alone (the tests' and `worker --once`'s
path, which is not a running worker)."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import select

from smmpanel.db import Database
from smmpanel.jobs.models import WorkerHeartbeat
from smmpanel.jobs.queue import enqueue
from smmpanel.jobs.worker import Worker
from smmpanel.timeutil import as_utc
from tests.e2e.processes import wait_for


def _beats(db: Database) -> list[tuple[str, Any]]:
    with db.read() as session:
        rows = session.execute(select(WorkerHeartbeat.name, WorkerHeartbeat.beat_at)).all()
    return [(name, as_utc(at)) for name, at in rows]


def test_run_once_writes_none_and_run_forever_beats_between_jobs(db: Database) -> None:
    slow = threading.Event()

    def job(_db: Database, _payload: dict[str, Any]) -> None:
        slow.wait(0.05)  # jobs that keep the loop busy: beats come between them

    worker = Worker(db, {"x": job}, name="w-beat", poll_interval=0.05, heartbeat=0.2)
    with db.write() as session:
        for n in range(40):
            enqueue(session, "x", {"n": n})
    worker.run_once(max_jobs=2)
    assert _beats(db) == []
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        first = wait_for(lambda: _beats(db), timeout=20)
        assert [name for name, _ in first] == ["w-beat"]
        time.sleep(0.6)  # still running jobs, and beating
        later = _beats(db)
    finally:
        stop.set()
        thread.join(10)
    assert later[0][1] > first[0][1]
    with db.read() as session:
        assert session.scalar(select(WorkerHeartbeat.started_at)) is not None
