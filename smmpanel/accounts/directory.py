"""Finding customers and reading one customer's account, for the staff's admin
pages: a search box over ids, usernames and e-mails, keyset-paged, and what
the customer page shows of an account (never a key or a secret)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from smmpanel.accounts.models import Account, ApiKey, Currency
from smmpanel.db import Database
from smmpanel.timeutil import as_utc

PAGE_SIZE = 50
# A search box's text is cut to this; no username (64) or e-mail (255) needs more to be found.
MAX_SEARCH = 100
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class CustomerRow:
    id: int
    username: str
    email: str | None
    status: str
    currency: str
    balance: int  # minor units of `currency`
    created_at: datetime


@dataclass(frozen=True)
class CustomerPage:
    """Newest accounts first; `older` / `newer`: the ids to page from, when there are more."""

    rows: list[CustomerRow]
    older: int | None
    newer: int | None


@dataclass(frozen=True)
class CustomerCard:
    """An account as the customer page shows it."""

    id: int
    username: str
    email: str | None
    status: str
    currency: str
    balance: int
    extended_fields: bool
    rate_limit: str | None  # None: the panel's default
    key_prefixes: tuple[str, ...]
    two_factor: bool
    has_password: bool
    language: str | None
    created_at: datetime


_LIST_COLUMNS: tuple[Any, ...] = (
    Account.id,
    Account.username,
    Account.email,
    Account.status,
    Account.currency,
    Account.balance,
    Account.created_at,
)


def search_accounts(
    db: Database,
    *,
    text: str = "",
    before: int | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> CustomerPage:
    """Accounts matching `text` (an exact id, or a part of the username or the
    e-mail, letters in either case), newest first, `limit` of them below
    `before` or above `after`."""
    query = select(*_LIST_COLUMNS)
    condition = _matching(text[:MAX_SEARCH].strip())
    if condition is not None:
        query = query.where(condition)
    with db.read() as session:
        rows, older, newer = _keyset(session, query, before, after, limit)
    return CustomerPage([_row(row) for row in rows], older, newer)


def _matching(text: str) -> ColumnElement[bool] | None:
    """A number is an id or a part of a name; anything else, a part of the
    username or e-mail.  LIKE's wildcards in the text are matched literally;
    lower() on both sides makes it case-insensitive on SQLite and PostgreSQL
    alike (a scan of the accounts, which are thousands, not millions)."""
    if not text:
        return None
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    parts: list[ColumnElement[bool]] = [
        func.lower(Account.username).like(pattern, escape="\\"),
        func.lower(func.coalesce(Account.email, "")).like(pattern, escape="\\"),
    ]
    if text.isascii() and text.isdigit() and int(text) <= MAX_ID:
        parts.append(Account.id == int(text))
    return or_(*parts)


def _keyset(
    session: Session, query: Select[Any], before: int | None, after: int | None, limit: int
) -> tuple[list[Any], int | None, int | None]:
    """One row more than `limit` is read to know whether another page follows."""
    if after is not None and before is None:
        found = list(
            session.execute(query.where(Account.id > after).order_by(Account.id).limit(limit + 1))
        )
        rows = list(reversed(found[:limit]))
        newer = rows[0].id if rows and len(found) > limit else None
        return rows, rows[-1].id if rows else None, newer
    if before is not None:
        query = query.where(Account.id < before)
    found = list(session.execute(query.order_by(Account.id.desc()).limit(limit + 1)))
    rows = found[:limit]
    older = rows[-1].id if rows and len(found) > limit else None
    newer = rows[0].id if rows and before is not None else None
    return rows, older, newer


def _row(row: Any) -> CustomerRow:
    return CustomerRow(
        id=row.id,
        username=row.username,
        email=row.email,
        status=row.status,
        currency=row.currency,
        balance=row.balance,
        created_at=as_utc(row.created_at),
    )


def customer_card(db: Database, *, account_id: int) -> CustomerCard | None:
    """The account of that id, or None."""
    with db.read() as session:
        account = session.get(Account, account_id)
        if account is None:
            return None
        prefixes = session.scalars(
            select(ApiKey.prefix)
            .where(ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None))
            .order_by(ApiKey.id)
        )
        return CustomerCard(
            id=account.id,
            username=account.username,
            email=account.email,
            status=account.status,
            currency=account.currency,
            balance=account.balance,
            extended_fields=account.extended_fields,
            rate_limit=account.rate_limit,
            key_prefixes=tuple(prefixes),
            two_factor=account.totp_secret is not None,
            has_password=account.password_hash is not None,
            language=account.language,
            created_at=as_utc(account.created_at),
        )


def currency_codes(db: Database) -> list[str]:
    """Every currency an account may be kept in (those with a rate)."""
    with db.read() as session:
        return list(session.scalars(select(Currency.code).order_by(Currency.code)))
