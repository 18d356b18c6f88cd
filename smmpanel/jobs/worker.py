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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from smmpanel.db import Database
from smmpanel.jobs.errors import RetryLater
from smmpanel.jobs.queue import DEFAULT_LEASE, claim_job, finish_job, retry_job
from smmpanel.jobs.schedules import enqueue_due_schedules

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

    def run_once(self, *, max_jobs: int = 1000) -> int:
        """Enqueue due schedules, then run due jobs until none is left (or
        `max_jobs`); returns how many jobs ran."""
        enqueue_due_schedules(self.db)
        ran = 0
        while ran < max_jobs and self.run_next():
            ran += 1
        return ran

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
        while not stop.is_set():
            try:
                ran = self.run_once(max_jobs=100)
            except Exception:
                log.exception("worker loop error; continuing")
                ran = 0
            if not ran:
                stop.wait(self.poll_interval)
        log.info("worker %s stopped", self.name)
