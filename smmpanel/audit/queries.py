"""Reading the audit trail: newest first, filtered by subject, actor, time, kind."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from smmpanel.audit.models import AuditAction, AuditEntry
from smmpanel.db import Database
from smmpanel.errors import InvalidValue
from smmpanel.timeutil import as_utc, utcnow

_AGO = re.compile(r"^(\d{1,6})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def list_audit(
    db: Database,
    *,
    subjects: Sequence[str] = (),
    actors: Sequence[str] = (),
    since: datetime | None = None,
    action: AuditAction | None = None,
    limit: int = 100,
) -> list[AuditRow]:
    """Rows newest first.  `subjects` and `actors` together select the rows of
    either (a person's trail: changes to their account and changes they made)."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    who = [AuditEntry.subject.in_(list(subjects))] if subjects else []
    who += [AuditEntry.actor.in_(list(actors))] if actors else []
    if who:
        query = query.where(or_(*who))
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if action is not None:
        query = query.where(AuditEntry.action == action.value)
    with db.read() as session:
        return [_row(entry) for entry in session.scalars(query)]


def _row(entry: AuditEntry) -> AuditRow:
    details = json.loads(entry.details or "{}")
    return AuditRow(
        id=entry.id,
        at=as_utc(entry.at),
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        before=details.get("before"),
        after=details.get("after"),
    )


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """A moment from `2026-11-01` (midnight UTC), an ISO time (UTC unless it says
    otherwise), or an age such as `30m`, `24h`, `7d`."""
    value = text.strip()
    ago = _AGO.match(value.lower())
    if ago:
        return (now or utcnow()) - timedelta(**{_UNITS[ago[2]]: int(ago[1])})
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise InvalidValue(
            f"--since takes a date (2026-11-01), a time (2026-11-01T12:00) or an age "
            f"(30m, 24h, 7d), not {text!r}"
        ) from None


def parse_action(text: str) -> AuditAction:
    try:
        return AuditAction(text.strip().lower())
    except ValueError:
        raise InvalidValue(
            f"unknown action {text!r}; one of: {', '.join(a.value for a in AuditAction)}"
        ) from None
