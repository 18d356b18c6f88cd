"""Reads over the ledger: balance verification and history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from smmpanel.accounts.models import Account
from smmpanel.db import Database
from smmpanel.errors import InvalidValue
from smmpanel.ledger.models import ENTRY_KINDS, LedgerEntry
from smmpanel.timeutil import as_utc


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


@dataclass(frozen=True)
class LedgerFilter:
    """Which of an account's entries to show: a kind, and a time range
    (`since` inclusive, `until` exclusive)."""

    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class LedgerRow:
    id: int
    created_at: datetime
    kind: str
    amount: int  # signed minor units
    balance_after: int
    order_id: int | None
    refill_id: int | None
    cancel_id: int | None
    note: str
    cause: str | None = None  # the entry's idempotency key (ledger/causes.py)


def account_ledger(
    db: Database,
    *,
    account_id: int,
    where: LedgerFilter = LedgerFilter(),
    before_id: int | None = None,
    limit: int = 50,
) -> list[LedgerRow]:
    """The account's entries, newest first, `limit` of them from just below
    `before_id` (keyset pagination: the next page starts below the last id
    shown, so deep pages cost what the first does)."""
    if where.kind is not None and where.kind not in ENTRY_KINDS:
        raise InvalidValue(f"the kind is one of: {', '.join(ENTRY_KINDS)}")
    query = (
        select(LedgerEntry)
        .where(LedgerEntry.account_id == account_id)
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
    )
    if where.kind is not None:
        query = query.where(LedgerEntry.kind == where.kind)
    if where.since is not None:
        query = query.where(LedgerEntry.created_at >= where.since)
    if where.until is not None:
        query = query.where(LedgerEntry.created_at < where.until)
    if before_id is not None:
        query = query.where(LedgerEntry.id < before_id)
    with db.read() as session:
        return [_ledger_row(entry) for entry in session.scalars(query)]


def _ledger_row(entry: LedgerEntry) -> LedgerRow:
    return LedgerRow(
        id=entry.id,
        created_at=as_utc(entry.created_at),
        kind=entry.kind,
        amount=entry.amount,
        balance_after=entry.balance_after,
        order_id=entry.order_id,
        refill_id=entry.refill_id,
        cancel_id=entry.cancel_id,
        note=entry.note,
        cause=entry.cause,
    )
