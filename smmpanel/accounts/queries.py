"""Reads: authentication and account listings."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, String, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from smmpanel.accounts.errors import InvalidApiKey
from smmpanel.accounts.models import ACTIVE, Account, ApiKey, Currency
from smmpanel.accounts.service import hash_key
from smmpanel.db import Database
from smmpanel.db_pipeline import Pipeline

MAX_KEY_LENGTH = 256


@dataclass(frozen=True)
class Principal:
    """The account an API call acts for, with what pricing needs."""

    account_id: int
    username: str
    currency: str
    fx_rate: Decimal
    extended_fields: bool


def authenticate(db: Database, key: str | None) -> Principal:
    """Resolve an API key; raises InvalidApiKey for a missing, unknown or revoked
    key and for a suspended account alike."""
    digest = key_digest(key)
    with db.read() as session:
        return principal_for(session, digest)


def key_digest(key: str | None) -> str:
    """The stored form of an API key; InvalidApiKey for one that cannot be valid
    (checked before any database work)."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidApiKey("Invalid API key")
    return hash_key(key.strip())


def principal_for(reader: Session | Connection, digest: str) -> Principal:
    """The account of a key digest, read in the caller's transaction (so the API
    authenticates and acts in one transaction); InvalidApiKey as `authenticate`."""
    return principal_of(reader.execute(_AUTHENTICATE, {"digest": digest}).first(), digest)


def key_check_with(*columns: Any) -> Select[Any]:
    """The key check's statement reading `columns` too (of the caller's account,
    `Account`): another context's state read in the same statement, so in the
    same snapshot and round trip.  Build it once; `principal_of` reads its row."""
    return _AUTHENTICATE.add_columns(*columns)


def key_check_where(keys: ColumnElement[bool], *columns: Any) -> Select[Any]:
    """The key check of every key `keys` selects (a row per key found, not
    revoked), reading `columns` too: `key_check_with` for many calls at once
    (the API's coalesced reads on PostgreSQL).  `principal_of` reads each row."""
    return _KEY_CHECK.where(keys).add_columns(*columns)


def principal_of(row: Any, digest: str) -> Principal:
    """The Principal of a row of the key check (None: no such key), whatever
    columns `key_check_with` added; InvalidApiKey as `authenticate`."""
    # The index lookup already matched; compare again in constant time so the
    # check does not depend on a short-circuiting string comparison anywhere.
    if row is None or not hmac.compare_digest(row.key_hash, digest) or row.status != ACTIVE:
        raise InvalidApiKey("Invalid API key")
    return Principal(
        account_id=row.id,
        username=row.username,
        currency=row.currency,
        fx_rate=Decimal(row.rate),
        extended_fields=bool(row.extended_fields),
    )


def lock_balances(session: Session, account_ids: Iterable[int]) -> None:
    """Lock the accounts' rows (their balances) in ascending id order, in the
    caller's write transaction: every transaction that changes several balances
    (a batch of orders, a status sync's batch of refunds) takes them in this one
    order first, so that two of them never each hold a balance the other waits
    for (a deadlock PostgreSQL would break by failing one).  On SQLite, whose
    writer holds the whole database, it costs a read."""
    ids = sorted(set(account_ids))
    if ids:
        session.execute(_LOCK_BALANCES, {"ids": ids}).all()


def balances_of_keys(session: Session, digests: Iterable[str]) -> dict[str, Any]:
    """The key check of each of these API key digests, with its account's
    balance, read without locking (the balance may change before the
    transaction locks it: `lock_balances`): the key check's row
    (`principal_of` reads it) by digest, for those of a key not revoked.  On
    PostgreSQL sent as a pipeline (db_pipeline): a transaction's first
    statement goes with its BEGIN, in one round trip instead of two."""
    given = sorted(set(digests))
    if not given:
        return {}
    connection = session.connection()
    rows: Sequence[Any]
    if connection.dialect.name == "postgresql":
        pipeline = Pipeline(connection)
        read_at = pipeline.query(_BALANCES_OF_KEYS_ANY, {"digests": given})
        rows = pipeline.send()[read_at].rows
    else:
        rows = connection.execute(_BALANCES_OF_KEYS, {"digests": given}).all()
    return {row.key_hash: row for row in rows}


_LOCK_BALANCES = (
    select(Account.id)
    .where(Account.id.in_(bindparam("ids", expanding=True)))
    .order_by(Account.id)
    .with_for_update()
)
# Built once: every API call runs it, and building a statement costs as much as
# running it (measured: 260 us a query built per call, 120 us prebuilt).
_KEY_CHECK = (
    select(
        ApiKey.key_hash,
        Account.id,
        Account.username,
        Account.status,
        Account.currency,
        Account.extended_fields,
        Currency.rate,
    )
    .join(Account, Account.id == ApiKey.account_id)
    .join(Currency, Currency.code == Account.currency)
    .where(ApiKey.revoked_at.is_(None))
)
_AUTHENTICATE = _KEY_CHECK.where(ApiKey.key_hash == bindparam("digest"))
_BALANCES_OF_KEYS = _KEY_CHECK.add_columns(Account.balance).where(
    ApiKey.key_hash.in_(bindparam("digests", expanding=True))
)
# PostgreSQL's, the digests as one array (a pipeline's statements are
# compiled once: no list expanded into placeholders).
_BALANCES_OF_KEYS_ANY = _KEY_CHECK.add_columns(Account.balance).where(
    ApiKey.key_hash == func.any(bindparam("digests", type_=ARRAY(String)))
)


@dataclass(frozen=True)
class AccountRow:
    id: int
    username: str
    email: str | None
    status: str
    currency: str
    balance: int
    extended_fields: bool
    key_prefix: str | None
    orders: int
    # None: the panel's default rate limit; else "off" or "N/second" (minute, hour).
    rate_limit: str | None = None


def list_accounts(
    db: Database, *, order_counts: Mapping[int, int] | None = None
) -> list[AccountRow]:
    """Every account with its current key's prefix; `order_counts` (by account
    id, from the orders context) fills `orders`, which accounts cannot count."""
    counts = order_counts or {}
    key_prefix = (
        select(ApiKey.prefix)
        .where(ApiKey.account_id == Account.id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = select(Account, key_prefix).order_by(Account.id)
    with db.read() as session:
        return [
            AccountRow(
                id=a.id,
                username=a.username,
                email=a.email,
                status=a.status,
                currency=a.currency,
                balance=a.balance,
                extended_fields=a.extended_fields,
                key_prefix=prefix,
                orders=counts.get(a.id, 0),
                rate_limit=a.rate_limit,
            )
            for a, prefix in session.execute(query)
        ]


def rate_limit_overrides(db: Database) -> dict[str, str]:
    """The key digests of accounts with their own rate limit, and that limit.
    The API reloads them every few seconds instead of reading per request; only
    the few accounts with a limit of their own are read."""
    query = (
        select(ApiKey.key_hash, Account.rate_limit)
        .join(Account, Account.id == ApiKey.account_id)
        .where(Account.rate_limit.is_not(None), ApiKey.revoked_at.is_(None))
    )
    with db.read_core() as connection:
        return {digest: str(limit) for digest, limit in connection.execute(query)}


def account_balance(db: Database, account_id: int) -> tuple[int, str]:
    with db.read() as session:
        return balance_of(session, account_id)


def balance_of(reader: Session | Connection, account_id: int) -> tuple[int, str]:
    """An account's balance in minor units and its currency, in the caller's transaction."""
    row = reader.execute(_BALANCE, {"account_id": account_id}).one()
    return int(row[0]), str(row[1])


_BALANCE = select(Account.balance, Account.currency).where(Account.id == bindparam("account_id"))


def principal_and_balance(reader: Session | Connection, digest: str) -> tuple[Principal, int]:
    """The key checked and its account's balance (minor units of the account's
    currency) in one statement: the API's `balance` is this one read."""
    row = reader.execute(KEY_AND_BALANCE, {"digest": digest}).first()
    who = principal_of(row, digest)
    assert row is not None  # principal_of refuses a missing row
    return who, int(row.balance)


# Public for the event loop's own SQLite connection (api_v2/loop_reads.py).
KEY_AND_BALANCE = key_check_with(Account.balance)


@dataclass(frozen=True)
class ApiAccess:
    """What the customer's API page shows: never a key or a secret, only the
    prefixes of the active keys and whether a webhook secret exists."""

    key_prefixes: tuple[str, ...]
    webhook_url: str | None
    has_webhook_secret: bool


def api_access(db: Database, *, account_id: int) -> ApiAccess:
    with db.read() as session:
        prefixes = session.scalars(
            select(ApiKey.prefix)
            .where(ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None))
            .order_by(ApiKey.id)
        )
        row = session.execute(
            select(Account.webhook_url, Account.webhook_secret).where(Account.id == account_id)
        ).one()
        return ApiAccess(
            key_prefixes=tuple(prefixes), webhook_url=row[0], has_webhook_secret=bool(row[1])
        )
