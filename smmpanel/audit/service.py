"""Writing the audit trail: one row per change, in the change's own transaction,
so a change that is rolled back leaves no row and a row never lacks its change."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from smmpanel.audit.models import MAX_SUBJECT, Actor, AuditAction, AuditEntry
from smmpanel.money import format_units
from smmpanel.timeutil import utcnow

# Names of values that must never reach the trail, whoever passes them: the
# trail is read by more people (the web admin) than the secrets are.
SECRET_NAMES = frozenset(
    {"api_key", "key", "key_hash", "password", "secret", "webhook_secret", "token"}
)


class SecretInAudit(ValueError):
    """A programming error: a secret was about to be written to the trail."""


def record_audit(
    session: Session,
    *,
    actor: Actor,
    action: AuditAction,
    subject: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add one audit row to the caller's transaction."""
    details: dict[str, dict[str, Any]] = {}
    if before is not None:
        details["before"] = _plain(before)
    if after is not None:
        details["after"] = _plain(after)
    entry = AuditEntry(
        at=utcnow(),
        actor=str(actor),
        action=AuditAction(action).value,
        subject=subject[:MAX_SUBJECT],
        details=json.dumps(details, sort_keys=True, ensure_ascii=False),
    )
    session.add(entry)
    return entry


def changed_fields(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields whose value differs, before and after."""
    keys = [key for key in after if before.get(key) != after[key]]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


def money(units: int | None) -> str | None:
    """Minor units as the Decimal string the trail keeps (5 places)."""
    return None if units is None else format_units(units)


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = {}
    for key, value in values.items():
        if key.lower() in SECRET_NAMES:
            raise SecretInAudit(f"{key!r} is a secret and is never audited")
        plain[key] = _jsonable(value)
    return plain


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact, never a float
    if isinstance(value, Mapping):
        return _plain(value)
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def account_subject(account_id: int) -> str:
    return f"account:{account_id}"


def subject(kind: str, key: object) -> str:
    """The subject of a change: ``kind:key`` (service:12, setting:default_refill_days)."""
    return f"{kind}:{key}"
