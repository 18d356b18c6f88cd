"""Reads over the ledger: balance verification and history."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from smmpanel.accounts.models import Account
from smmpanel.db import Database
from smmpanel.ledger.models import LedgerEntry


@dataclass(frozen=True)
class BalanceMismatch:
    account_id: int
    username: str
    cached: int
    ledger_sum: int


def find_balance_mismatches(db: Database) -> list[BalanceMismatch]:
    """Every account whose cached balance differs from the sum of its entries."""
    sums = (
        select(
            LedgerEntry.account_id, func.coalesce(func.sum(LedgerEntry.amount), 0).label("total")
        )
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    query = (
        select(Account.id, Account.username, Account.balance, func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.account_id == Account.id)
        .where(Account.balance != func.coalesce(sums.c.total, 0))
        .order_by(Account.id)
    )
    with db.read() as session:
        return [
            BalanceMismatch(account_id=r[0], username=r[1], cached=r[2], ledger_sum=int(r[3]))
            for r in session.execute(query)
        ]


def list_entries(
    db: Database, *, account_id: int | None = None, limit: int = 100
) -> list[LedgerEntry]:
    query = select(LedgerEntry).order_by(LedgerEntry.id.desc()).limit(limit)
    if account_id is not None:
        query = query.where(LedgerEntry.account_id == account_id)
    with db.read() as session:
        return list(session.scalars(query))
