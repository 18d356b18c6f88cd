"""The jobs outbox: claiming, leases, retries, schedules, several workers."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from smmpanel.db import Database
from smmpanel.jobs.errors import RetryLater
from smmpanel.jobs.models import DONE, FAILED, QUEUED, Job, Schedule
from smmpanel.jobs.queue import claim_job, enqueue, finish_job, retry_job
from smmpanel.jobs.schedules import ScheduleSpec, enqueue_due_schedules, ensure_schedules
from smmpanel.jobs.worker import Worker
from smmpanel.timeutil import utcnow


def _enqueue(
    db: Database, kind: str, payload: dict[str, Any] | None = None, **kw: Any
) -> int | None:
    with db.write() as session:
        job = enqueue(session, kind, payload, **kw)
        return job.id if job else None


def _job(db: Database, job_id: int) -> Job:
    with db.read() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_claim_finish_and_dedupe(db: Database) -> None:
    first = _enqueue(db, "ping", {"n": 1}, dedupe_key="ping:1")
    assert first is not None
    assert _enqueue(db, "ping", {"n": 1}, dedupe_key="ping:1") is None  # still queued
    claimed = claim_job(db, worker="w1")
    assert claimed is not None and claimed.id == first and claimed.payload == {"n": 1}
    assert claim_job(db, worker="w2") is None  # leased to w1
    assert finish_job(db, job_id=first, worker="w1")
    assert _job(db, first).status == DONE
    # Once done, the same work may be queued again.
    assert _enqueue(db, "ping", {"n": 1}, dedupe_key="ping:1") is not None


def test_expired_lease_is_claimed_again_and_old_worker_cannot_finish(db: Database) -> None:
    job_id = _enqueue(db, "ping")
    assert claim_job(db, worker="dead", lease=timedelta(seconds=-1)) is not None
    again = claim_job(db, worker="alive")
    assert again is not None and again.id == job_id and again.attempts == 2
    assert not finish_job(db, job_id=job_id, worker="dead")
    assert finish_job(db, job_id=job_id, worker="alive")


def test_retry_backs_off_then_fails_after_max_attempts(db: Database) -> None:
    job_id = _enqueue(db, "flaky", max_attempts=2)
    assert job_id is not None
    claim_job(db, worker="w")
    assert retry_job(db, job_id=job_id, worker="w", error="boom") == QUEUED
    job = _job(db, job_id)
    assert job.last_error == "boom"
    assert claim_job(db, worker="w") is None  # backing off
    with db.write() as session:
        session.execute(update(Job).where(Job.id == job_id).values(run_at=utcnow()))
    claim_job(db, worker="w")
    assert retry_job(db, job_id=job_id, worker="w", error="boom again") == FAILED
    assert _job(db, job_id).status == FAILED


def test_worker_runs_handlers_and_retries_failures(db: Database) -> None:
    seen: list[int] = []

    def ok(_db: Database, payload: dict[str, Any]) -> None:
        seen.append(payload["n"])

    def later(_db: Database, _payload: dict[str, Any]) -> None:
        raise RetryLater("not now", delay=3600)

    def broken(_db: Database, _payload: dict[str, Any]) -> None:
        raise ValueError("bad payload")

    ids = [_enqueue(db, "ok", {"n": n}) for n in range(3)]
    later_id = _enqueue(db, "later")
    broken_id = _enqueue(db, "broken")
    worker = Worker(db, {"ok": ok, "later": later, "broken": broken}, name="w")
    assert worker.run_once() == 5
    assert sorted(seen) == [0, 1, 2]
    assert all(_job(db, i).status == DONE for i in ids if i)
    assert later_id and _job(db, later_id).status == QUEUED
    assert _job(db, later_id).run_at.replace(tzinfo=None) > utcnow().replace(tzinfo=None)
    assert broken_id and "ValueError: bad payload" in _job(db, broken_id).last_error
    assert worker.run_once() == 0  # both are backing off


def test_schedules_enqueue_once_per_tick(db: Database) -> None:
    ensure_schedules(db, [ScheduleSpec("sync", "status_sync", 60, {"p": 1})])
    assert enqueue_due_schedules(db) == 1
    assert enqueue_due_schedules(db) == 0  # next tick is a minute away
    with db.read() as session:
        jobs = session.scalars(select(Job).where(Job.kind == "status_sync")).all()
        schedule = session.get(Schedule, "sync")
    assert [j.payload for j in jobs] == [{"p": 1}]
    assert schedule is not None and schedule.interval_seconds == 60


def test_many_workers_never_run_a_job_twice(db: Database) -> None:
    total = 60
    for n in range(total):
        _enqueue(db, "count", {"n": n})
    runs: list[int] = []
    lock = threading.Lock()

    def count(_db: Database, payload: dict[str, Any]) -> None:
        with lock:
            runs.append(payload["n"])

    workers = [Worker(db, {"count": count}, name=f"w{i}") for i in range(4)]
    threads = [threading.Thread(target=w.run_once) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(runs) == list(range(total))
