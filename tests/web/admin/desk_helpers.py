"""Shared by the ticket desk's and the settings' tests: audit rows by action."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from smmpanel.audit.models import AuditEntry
from smmpanel.db import Database


def audit_rows(db: Database, action: str) -> list[dict[str, Any]]:
    """The audit rows of `action`, oldest first, with their details parsed."""
    with db.read() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).all()
        return [
            {"actor": r.actor, "subject": r.subject, **json.loads(r.details or "{}")} for r in rows
        ]
