"""Workers' heartbeats: one row per worker, its time refreshed by its loop.

A row is written when a beat is due (every HEARTBEAT_SECONDS), not per job, so
a busy worker costs one small write every few seconds.  Rows of workers gone
for a day are deleted when a worker starts, so restarts do not pile them up.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.orm import Session

from smmpanel.db import Database
from smmpanel.jobs.models import WorkerHeartbeat
from smmpanel.timeutil import as_utc, utcnow

HEARTBEAT_SECONDS = 5.0
FORGET_AFTER = timedelta(days=1)


def record_heartbeat(db: Database, *, worker: str, started_at: datetime) -> None:
    """This worker is alive now."""
    now = utcnow()
    with db.write() as session:
        result = session.execute(
            update(WorkerHeartbeat).where(WorkerHeartbeat.name == worker).values(beat_at=now)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            forgotten = WorkerHeartbeat.beat_at < now - FORGET_AFTER
            session.execute(delete(WorkerHeartbeat).where(forgotten))
            session.add(WorkerHeartbeat(name=worker, started_at=started_at, beat_at=now))


def last_heartbeat_at(reader: Connection | Session) -> datetime | None:
    """When the freshest worker last beat; None when no worker ever ran here
    (or none for a day)."""
    beat = reader.scalar(select(func.max(WorkerHeartbeat.beat_at)))
    return as_utc(beat) if beat is not None else None


def live_workers_since(reader: Connection | Session, since: datetime) -> int:
    """Workers that beat at or after `since`."""
    count = reader.scalar(
        select(func.count()).select_from(WorkerHeartbeat).where(WorkerHeartbeat.beat_at >= since)
    )
    return count or 0
