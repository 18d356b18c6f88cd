"""The worker: runs due schedules and jobs until stopped.

Handlers are plain functions ``handler(db, payload)`` registered per job kind.
They run outside any transaction and open their own; each must be safe to run
again after a crash at any point (the job is retried when its lease runs out).

A job that fails (an exception after its last attempt) runs its kind's
failure hook, ``hook(session, payload, error)``, in the transaction that marks
it failed: what the job was doing is then left in a state the owner sees.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from smmpanel.db import Database
from smmpanel.jobs.errors import RetryLater
from smmpanel.jobs.heartbeat import HEARTBEAT_SECONDS, record_heartbeat
from smmpanel.jobs.queue import DEFAULT_LEASE, claim_job, finish_job, retry_job
from smmpanel.jobs.schedules import enqueue_due_schedules
from smmpanel.timeutil import utcnow

log = logging.getLogger("smmpanel.worker")

Handler = Callable[[Database, dict[str, Any]], None]
FailureHook = Callable[[Session, dict[str, Any], str], None]


@dataclass
class Worker:
    db: Database
    handlers: dict[str, Handler]
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    poll_interval: float = 0.5
    lease: timedelta = DEFAULT_LEASE
    failure_hooks: dict[str, FailureHook] = field(default_factory=dict)
    # Seconds between heartbeats while run_forever runs (None: none written).
    heartbeat: float | None = HEARTBEAT_SECONDS
    _started_at: datetime = field(default_factory=utcnow, init=False)
    _beat_due: float = field(default=0.0, init=False)
    _beating: bool = field(default=False, init=False)

    def run_once(self, *, max_jobs: int = 1000) -> int:
        """Enqueue due schedules, then run due jobs until none is left (or
        `max_jobs`); returns how many jobs ran."""
        enqueue_due_schedules(self.db)
        ran = 0
        while ran < max_jobs and self.run_next():
            ran += 1
            self._beat_if_due()
        return ran

    def _beat_if_due(self) -> None:
        """A heartbeat every few seconds while run_forever runs: between jobs too,
        so a long queue of jobs does not look like a dead worker (one job that
        runs longer than the staleness limit does, and should be looked at)."""
        if not self._beating or self.heartbeat is None or time.monotonic() < self._beat_due:
            return
        self._beat_due = time.monotonic() + self.heartbeat
        record_heartbeat(self.db, worker=self.name, started_at=self._started_at)

    def run_next(self) -> bool:
        job = claim_job(self.db, worker=self.name, kinds=tuple(self.handlers), lease=self.lease)
        if job is None:
            return False
        handler = self.handlers[job.kind]
        try:
            handler(self.db, job.payload)
        except RetryLater as later:
            retry_job(
                self.db,
                job_id=job.id,
                worker=self.name,
                error=str(later),
                delay=later.delay,
                counted=not later.waiting,
                on_failure=self.failure_hooks.get(job.kind),
            )
        except Exception as exc:
            log.exception("job %s (%s) failed on attempt %s", job.id, job.kind, job.attempts)
            retry_job(
                self.db,
                job_id=job.id,
                worker=self.name,
                error=f"{type(exc).__name__}: {exc}",
                on_failure=self.failure_hooks.get(job.kind),
            )
        else:
            finish_job(self.db, job_id=job.id, worker=self.name)
        return True

    def run_forever(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        log.info("worker %s started", self.name)
        self._beating = True
        while not stop.is_set():
            try:
                self._beat_if_due()
                ran = self.run_once(max_jobs=100)
            except Exception:
                log.exception("worker loop error; continuing")
                ran = 0
            if not ran:
                stop.wait(self.poll_interval)
        self._beating = False
        log.info("worker %s stopped", self.name)
