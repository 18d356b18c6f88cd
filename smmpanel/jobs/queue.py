"""Enqueueing, claiming and finishing jobs.

Claiming is safe with any number of workers: on PostgreSQL the claim query
uses ``FOR UPDATE SKIP LOCKED``; on SQLite the claim runs under ``BEGIN
IMMEDIATE``, which serialises writers.  A claim sets a lease; a job whose
worker died is claimed again once its lease has run out.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smmpanel.db import Database
from smmpanel.db_bulk import insert_rows
from smmpanel.jobs.models import DONE, FAILED, QUEUED, RUNNING, Job
from smmpanel.timeutil import utcnow

DEFAULT_LEASE = timedelta(seconds=60)
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 600.0


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = 8,
) -> Job | None:
    """Add a job inside the caller's transaction.  With a `dedupe_key`, a job
    with the same key that is still queued or running makes this a no-op
    (returns None)."""
    if dedupe_key is not None:
        pending = session.execute(select(Job.id).where(Job.dedupe_key == dedupe_key)).first()
        if pending is not None:
            return None
    job = Job(
        kind=kind,
        payload=payload or {},
        run_at=run_at or utcnow(),
        dedupe_key=dedupe_key,
        max_attempts=max_attempts,
        status=QUEUED,
    )
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:
        return None  # a concurrent twin queued the same work
    return job


def enqueue_many(
    session: Session,
    kind: str,
    payloads: Sequence[dict[str, Any]],
    *,
    max_attempts: int = 8,
    dedupe_keys: Sequence[str] | None = None,
) -> int:
    """enqueue for many jobs in one INSERT; returns how many.  `dedupe_keys`,
    one per payload, only for keys nothing can hold yet (those of orders made
    in this transaction): a key already held fails the INSERT, where enqueue
    would skip its job."""
    if payloads:
        rows = job_rows(kind, payloads, max_attempts=max_attempts, dedupe_keys=dedupe_keys)
        insert_rows(session.connection(), JOBS, rows)
    return len(payloads)


def job_rows(
    kind: str,
    payloads: Sequence[dict[str, Any]],
    *,
    max_attempts: int = 8,
    dedupe_keys: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """The rows `enqueue_many` inserts into JOBS, for a caller that sends them
    itself (orders.bulk_place, with its other writes in one round trip)."""
    now = utcnow()
    keys = [None] * len(payloads) if dedupe_keys is None else dedupe_keys
    return [
        dict(
            kind=kind,
            payload=p,
            run_at=now,
            max_attempts=max_attempts,
            status=QUEUED,
            dedupe_key=key,
        )
        for p, key in zip(payloads, keys, strict=True)
    ]


JOBS = cast(Table, Job.__table__)


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


def claim_job(
    db: Database,
    *,
    worker: str,
    kinds: tuple[str, ...] | None = None,
    lease: timedelta = DEFAULT_LEASE,
) -> ClaimedJob | None:
    """Take the next due job (or one whose lease ran out) for `worker`."""
    now = utcnow()
    due = or_(
        (Job.status == QUEUED) & (Job.run_at <= now),
        (Job.status == RUNNING) & (Job.lease_until < now),
    )
    query = select(Job).where(due).order_by(Job.run_at, Job.id).limit(1)
    if kinds:
        query = query.where(Job.kind.in_(kinds))
    if not db.is_sqlite:
        query = query.with_for_update(skip_locked=True)
    with db.write() as session:
        job = session.execute(query).scalar_one_or_none()
        if job is None:
            return None
        job.status = RUNNING
        job.worker = worker
        job.lease_until = now + lease
        job.attempts += 1
        return ClaimedJob(job.id, job.kind, dict(job.payload), job.attempts, job.max_attempts)


def finish_job(db: Database, *, job_id: int, worker: str) -> bool:
    """Mark done; False when the lease was lost to another worker meanwhile."""
    with db.write() as session:
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.worker == worker, Job.status == RUNNING)
            .values(status=DONE, finished_at=utcnow(), dedupe_key=None, lease_until=None)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def retry_job(
    db: Database,
    *,
    job_id: int,
    worker: str,
    error: str,
    delay: float | None = None,
    counted: bool = True,
    on_failure: Callable[[Session, dict[str, Any], str], None] | None = None,
) -> str:
    """Schedule another attempt with exponential backoff and jitter, or fail the
    job when it has used its attempts (then `on_failure(session, payload,
    error)` runs in the same transaction).  `counted=False`: this attempt does
    not count (the job waits on something outside it), so it never fails for
    it.  Returns the job's new status."""
    with db.write() as session:
        job = session.get(Job, job_id)
        if job is None or job.worker != worker or job.status != RUNNING:
            return "lost"
        job.last_error = error[-2000:]
        job.lease_until = None
        if not counted:
            job.attempts = max(0, job.attempts - 1)  # the claim counted it
        elif job.attempts >= job.max_attempts:
            job.status, job.finished_at, job.dedupe_key = FAILED, utcnow(), None
            if on_failure is not None:
                on_failure(session, dict(job.payload), job.last_error)
            return FAILED
        wait = backoff_seconds(job.attempts) if delay is None else delay
        job.status, job.run_at = QUEUED, utcnow() + timedelta(seconds=wait)
        return QUEUED


def wake_jobs(session: Session, dedupe_keys: list[str]) -> int:
    """Make the queued jobs with these keys due now (inside the caller's
    transaction); returns how many."""
    if not dedupe_keys:
        return 0
    result = session.execute(
        update(Job)
        .where(Job.dedupe_key.in_(dedupe_keys), Job.status == QUEUED)
        .values(run_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def backoff_seconds(attempts: int) -> float:
    """2, 4, 8, ... seconds (capped), each with up to 50% jitter so that retries
    of many jobs do not hit a recovering provider at the same instant."""
    base: float = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return base * (0.5 + random.random() / 2)
