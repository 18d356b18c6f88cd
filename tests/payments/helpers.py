"""Reading back what the payments tests check: ledger entries, alerts, events."""

from __future__ import annotations

from sqlalchemy import select

from smmpanel.accounts.models import Account
from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.ledger.models import LedgerEntry
from smmpanel.panel.models import Alert
from smmpanel.payments.models import Deposit, DepositEvent
from smmpanel.payments.service import start_deposit

PANEL = "https://panel.example"


def start(db: Database, account_id: int, amount: str, gateway: str = "fake") -> int:
    started = start_deposit(
        db,
        account_id=account_id,
        gateway=gateway,
        amount=amount,
        panel_url=PANEL,
        actor=Actor("web", "customer"),
    )
    return started.deposit_id


def deposit_of(db: Database, deposit_id: int) -> Deposit:
    with db.read() as session:
        deposit = session.get(Deposit, deposit_id)
        assert deposit is not None
        return deposit


def entries(db: Database, account_id: int) -> list[tuple[str, int, str | None, str]]:
    """(kind, amount, cause, note) of the account's entries other than the
    factories' top-ups, oldest first."""
    with db.read() as session:
        rows = session.execute(
            select(LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.cause, LedgerEntry.note)
            .where(LedgerEntry.account_id == account_id, LedgerEntry.note != "test top-up")
            .order_by(LedgerEntry.id)
        ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def balance(db: Database, account_id: int) -> int:
    with db.read() as session:
        account = session.get(Account, account_id)
        assert account is not None
        return account.balance


def alerts(db: Database) -> list[tuple[str, str]]:
    with db.read() as session:
        rows = session.execute(
            select(Alert.kind, Alert.subject).where(Alert.resolved_at.is_(None)).order_by(Alert.id)
        ).all()
    return [(r[0], r[1]) for r in rows]


def events(db: Database, deposit_id: int) -> list[tuple[str, str | None, str]]:
    """(kind, from_state, to_state) of the deposit's history."""
    with db.read() as session:
        rows = session.execute(
            select(DepositEvent.kind, DepositEvent.from_state, DepositEvent.to_state)
            .where(DepositEvent.deposit_id == deposit_id)
            .order_by(DepositEvent.id)
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]
