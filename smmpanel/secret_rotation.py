"""Re-encrypting every stored secret with the current key (`smmpanel secrets rotate`).

Provider API keys, webhook secrets, two-factor (TOTP) secrets and payment
gateways' secret settings that are plain (stored before
encryption existed) or encrypted with a former key are encrypted again with
SMMPANEL_SECRET_KEY, in one transaction with the rows locked: a secret
changed at the same time waits, and a value no key opens stops it all before
anything changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from smmpanel.accounts.models import Account
from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import record_audit
from smmpanel.db import Database
from smmpanel.payments.setup import reseal_gateway_secrets
from smmpanel.providers.models import Provider
from smmpanel.secretbox import CURRENT_KEY, PLAIN, SecretBox, SecretKeyError

# What holds a secret: (what the owner calls it, its table's id, the column).
SECRET_COLUMNS: tuple[tuple[str, Any, Any], ...] = (
    ("provider key", Provider.id, Provider.api_key),
    ("webhook secret", Account.id, Account.webhook_secret),
    ("two-factor secret", Account.id, Account.totp_secret),
    ("pending two-factor secret", Account.id, Account.totp_pending),
)
GATEWAY_SECRET = "payment gateway secret"


@dataclass
class ColumnReport:
    encrypted: int = 0  # plain until now
    reencrypted: int = 0  # from a former key
    current: int = 0  # already with the current key


@dataclass
class RotationReport:
    columns: dict[str, ColumnReport] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return sum(c.encrypted + c.reencrypted for c in self.columns.values())


def reencrypt_secrets(
    db: Database, box: SecretBox, *, dry_run: bool = False, actor: Actor
) -> RotationReport:
    """Encrypt every stored secret with `box`'s current key; returns the counts
    (with `dry_run`, what would change, changing nothing)."""
    report = RotationReport()
    with db.write() as session:
        for what, id_column, column in SECRET_COLUMNS:
            report.columns[what] = _reencrypt_column(
                session, box, what, id_column, column, dry_run=dry_run
            )
        # Gateway secrets live inside a JSON column: the payments context reseals them.
        plain, old_key, current = reseal_gateway_secrets(session, box, dry_run=dry_run)
        report.columns[GATEWAY_SECRET] = ColumnReport(plain, old_key, current)
        if report.changed and not dry_run:
            # How many, never which values.
            record_audit(
                session,
                actor=actor,
                action=AuditAction.SECRETS_REENCRYPTED,
                subject="secrets:all",
                after={
                    what: {"encrypted": c.encrypted, "reencrypted": c.reencrypted}
                    for what, c in report.columns.items()
                },
            )
    return report


def _reencrypt_column(
    session: Session, box: SecretBox, what: str, id_column: Any, column: Any, *, dry_run: bool
) -> ColumnReport:
    counts = ColumnReport()
    rows = session.execute(
        select(id_column, column).where(column.is_not(None)).order_by(id_column).with_for_update()
    ).all()
    table = id_column.class_
    for row_id, stored in rows:
        try:
            state = box.state(stored)
        except SecretKeyError as exc:
            raise SecretKeyError(f"{what} of {table.__tablename__} row {row_id}: {exc}") from None
        if state == CURRENT_KEY:
            counts.current += 1
            continue
        if not dry_run:
            new_value = box.seal(box.open(stored))
            session.execute(
                update(table).where(id_column == row_id).values({column.key: new_value})
            )
        if state == PLAIN:
            counts.encrypted += 1
        else:
            counts.reencrypted += 1
    return counts
