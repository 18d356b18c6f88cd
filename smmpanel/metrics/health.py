"""/healthz's checks: the database answers, its schema is the code's (the
Alembic revision it records is the code's head), and a worker beat recently.

Each check says what it found, never a secret or a driver's message (they
may name the server and the user): the exception's class at most.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from smmpanel.db import Database
from smmpanel.jobs.heartbeat import last_heartbeat_at
from smmpanel.schema import database_revisions, expected_revisions
from smmpanel.timeutil import utcnow

NOT_CHECKED = "not checked: the database did not answer"


@dataclass(frozen=True)
class Health:
    checks: dict[str, dict[str, Any]]

    @property
    def ok(self) -> bool:
        return all(check["ok"] for check in self.checks.values())

    def body(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "failing", "checks": self.checks}


def check_health(db: Database, *, stale_after: float) -> Health:
    """Each check in a transaction of its own: on PostgreSQL a failed query (a
    table that a schema behind the code lacks) would end the others' too."""
    try:
        with db.read_core() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        failed = {"ok": False, "detail": NOT_CHECKED}
        return Health(
            {
                "database": {"ok": False, "detail": f"unreachable ({type(exc).__name__})"},
                "migrations": failed,
                "worker": failed,
            }
        )
    return Health(
        {
            "database": {"ok": True},
            "migrations": _migrations(_database_revision(db)),
            "worker": _worker(db, stale_after),
        }
    )


def _database_revision(db: Database) -> str | None:
    with db.read_core() as conn:
        return _named(database_revisions(conn))


def _named(revisions: frozenset[str]) -> str | None:
    return ", ".join(sorted(revisions)) or None


def _migrations(revision: str | None) -> dict[str, Any]:
    code = _named(expected_revisions())
    check: dict[str, Any] = {"ok": revision == code, "database": revision, "code": code}
    if revision != code:
        check["detail"] = "the database is not at the code's revision: run `smmpanel db upgrade`"
    return check


def _worker(db: Database, stale_after: float) -> dict[str, Any]:
    try:
        with db.read_core() as conn:
            beat = last_heartbeat_at(conn)
    except DBAPIError as exc:
        return {"ok": False, "detail": f"the heartbeats could not be read ({type(exc).__name__})"}
    if beat is None:
        return {
            "ok": False,
            "detail": "no worker has ever run on this database: start `smmpanel worker`",
        }
    age = max(0.0, (utcnow() - beat).total_seconds())
    check: dict[str, Any] = {"ok": age <= stale_after, "heartbeat_age_seconds": round(age, 1)}
    if age > stale_after:
        check["detail"] = (
            f"no worker heartbeat for {age:.0f} s (more than {stale_after:g} s): "
            "is `smmpanel worker` running?"
        )
    return check
