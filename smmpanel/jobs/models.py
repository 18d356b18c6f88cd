"""The jobs table (an outbox), recurring schedules and owner alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smmpanel.db import Base
from smmpanel.timeutil import utcnow

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"


class Job(Base):
    """A side effect to perform after commit (a provider call, a webhook).

    Written in the same transaction as the business change that needs it, so
    it exists exactly when the change does.  A worker claims it with a lease;
    a crashed worker's lease runs out and the job is claimed again, so every
    handler must be safe to run again after a crash at any point.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claim", "status", "run_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    worker: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # Unique while the job is queued or running: the same work is never queued twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Schedule(Base):
    """A recurring job: when `next_run_at` passes, one worker enqueues `kind`."""

    __tablename__ = "schedules"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    interval_seconds: Mapped[int] = mapped_column(Integer)
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WorkerHeartbeat(Base):
    """A worker's sign of life, written every few seconds by its loop: /healthz
    and /metrics tell from the freshest one whether any worker is running."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
