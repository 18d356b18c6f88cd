"""Owner alerts, raised once until resolved."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import record_audit
from smmpanel.db import Database
from smmpanel.panel.models import Alert
from smmpanel.timeutil import utcnow


def raise_alert(session: Session, *, kind: str, subject: str, message: str) -> bool:
    """Add an alert unless an unresolved one of the same kind and subject exists."""
    open_alert = session.execute(
        select(Alert.id).where(
            Alert.kind == kind, Alert.subject == subject, Alert.resolved_at.is_(None)
        )
    ).first()
    if open_alert is not None:
        return False
    session.add(Alert(kind=kind, subject=subject[:128], message=message))
    return True


def resolve_alert(db: Database, *, alert_id: int, actor: Actor) -> bool:
    """The owner marks one alert dealt with; False when there is no such alert."""
    with db.write() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            return False
        record_audit(
            session,
            actor=actor,
            action=AuditAction.ALERT_RESOLVED,
            subject=f"alert:{alert_id}",
            before={"resolved": alert.resolved_at is not None},
            after={"resolved": True, "kind": alert.kind, "about": alert.subject},
        )
        alert.resolved_at = alert.resolved_at or utcnow()
        return True


def resolve_alerts(session: Session, *, kind: str, subject: str) -> int:
    """Mark the open alerts of this kind and subject dealt with; returns how many."""
    result = session.execute(
        update(Alert)
        .where(Alert.kind == kind, Alert.subject == subject, Alert.resolved_at.is_(None))
        .values(resolved_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def resolve_alerts_of(
    session: Session, *, kinds: Collection[str], subjects: Collection[str]
) -> int:
    """resolve_alerts for several kinds and subjects in one statement."""
    if not subjects:
        return 0
    result = session.execute(
        update(Alert)
        .where(
            Alert.kind.in_(list(kinds)),
            Alert.subject.in_(list(subjects)),
            Alert.resolved_at.is_(None),
        )
        .values(resolved_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
