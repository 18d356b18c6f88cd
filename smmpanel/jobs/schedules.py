"""Recurring work (status sync, price sync, drip-feed runs, ...) as jobs.

Each schedule row has a `next_run_at`; the worker that moves it forward with a
conditional UPDATE is the one that enqueues the job, so several workers never
enqueue the same tick twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from smmpanel.db import Database
from smmpanel.jobs.models import Schedule
from smmpanel.jobs.queue import enqueue
from smmpanel.timeutil import utcnow


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    kind: str
    interval_seconds: int
    payload: dict[str, Any] = field(default_factory=dict)


def ensure_schedules(db: Database, specs: list[ScheduleSpec]) -> None:
    """Create missing schedules and update the interval of existing ones."""
    with db.write() as session:
        for spec in specs:
            row = session.get(Schedule, spec.name)
            if row is None:
                session.add(
                    Schedule(
                        name=spec.name,
                        kind=spec.kind,
                        payload=spec.payload,
                        interval_seconds=spec.interval_seconds,
                        next_run_at=utcnow(),
                    )
                )
            else:
                row.kind, row.payload = spec.kind, spec.payload
                row.interval_seconds = spec.interval_seconds


def enqueue_due_schedules(db: Database) -> int:
    """Enqueue one job for each schedule whose time has come; returns how many."""
    now = utcnow()
    with db.read() as session:
        due = session.execute(select(Schedule).where(Schedule.next_run_at <= now)).scalars().all()
    queued = 0
    for schedule in due:
        with db.write() as session:
            moved = session.execute(
                update(Schedule)
                # Still due: of several workers, only the first moves it on.
                .where(Schedule.name == schedule.name, Schedule.next_run_at <= now)
                .values(next_run_at=now + timedelta(seconds=schedule.interval_seconds))
            )
            if moved.rowcount:  # type: ignore[attr-defined]
                job = enqueue(
                    session,
                    schedule.kind,
                    dict(schedule.payload),
                    dedupe_key=f"schedule:{schedule.name}",
                    max_attempts=1,
                )
                queued += job is not None
    return queued
