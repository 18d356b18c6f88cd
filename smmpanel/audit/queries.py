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


# --- the web admin's audit log: filters and keyset pages ---------------------------------

AUDIT_PAGE = 50
# An actor or subject filter: "kind:name" exactly, or "kind" / "kind:" for every one of the kind.
_FILTER = re.compile(r"^[a-z_]{1,40}(:\S{0,100})?$")


@dataclass(frozen=True)
class AuditFilter:
    """What the audit log shows: `actor` ("staff:olga" exactly, or "staff" /
    "staff:" for every staff member), `action`, `subject` ("account:12"
    exactly, or "deposit" for every deposit), rows at or after `since` and
    before `until`."""

    actor: str = ""
    action: AuditAction | None = None
    subject: str = ""
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    older: int | None  # pass as `before` for the next (older) page
    newer: int | None  # pass as `after` for the previous (newer) page


def check_filter_text(text: str, what: str) -> str:
    """`text` trimmed and lowered when it is a kind or kind:name filter; InvalidValue otherwise."""
    value = text.strip()
    kind, colon, name = value.partition(":")
    value = kind.lower() + colon + name
    if value and not _FILTER.match(value):
        raise InvalidValue(f"{what}: write kind:name (staff:olga, account:12) or a kind")
    return value


def _matching(column: Any, value: str) -> Any:
    kind, _, name = value.partition(":")
    if name:
        return column == value
    # "staff" or "staff:": the kind alone (worker, system) and every name of it.
    return or_(column == kind, column.startswith(f"{kind}:", autoescape=True))


def search_audit(
    db: Database,
    wanted: AuditFilter,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = AUDIT_PAGE,
) -> AuditPage:
    """One page of the trail, newest first by id (the order the rows were
    written in), `limit` rows below id `before` or above id `after`: keyset
    pages, never OFFSET, so the last page costs what the first does."""
    query = select(AuditEntry)
    if wanted.actor:
        query = query.where(_matching(AuditEntry.actor, wanted.actor))
    if wanted.subject:
        query = query.where(_matching(AuditEntry.subject, wanted.subject))
    if wanted.action is not None:
        query = query.where(AuditEntry.action == wanted.action.value)
    if wanted.since is not None:
        query = query.where(AuditEntry.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(AuditEntry.at < wanted.until)
    key = AuditEntry.id
    with db.read() as session:
        if after is not None and before is None:
            rows = list(session.scalars(query.where(key > after).order_by(key).limit(limit + 1)))
            more_newer = len(rows) > limit
            rows = list(reversed(rows[:limit]))
            older = rows[-1].id if rows else None
            newer = rows[0].id if rows and more_newer else None
        else:
            if before is not None:
                query = query.where(key < before)
            rows = list(session.scalars(query.order_by(key.desc()).limit(limit + 1)))
            more_older = len(rows) > limit
            rows = rows[:limit]
            older = rows[-1].id if rows and more_older else None
            newer = rows[0].id if rows and before is not None else None
        return AuditPage([_row(entry) for entry in rows], older, newer)
