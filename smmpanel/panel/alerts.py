"""Owner alerts, raised once until resolved."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

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


def resolve_alerts(session: Session, *, kind: str, subject: str) -> int:
    """Mark the open alerts of this kind and subject dealt with; returns how many."""
    result = session.execute(
        update(Alert)
        .where(Alert.kind == kind, Alert.subject == subject, Alert.resolved_at.is_(None))
        .values(resolved_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
