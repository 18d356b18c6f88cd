"""The catalog's version: a counter that database triggers bump on every change
of what the API's `services` answer is made of (migration 0019), so that any
process can tell with one indexed read whether a list it keeps is still right."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, exists, select
from sqlalchemy.orm import Session

from smmpanel.accounts.models import Account
from smmpanel.accounts.queries import Principal, key_check_with, principal_of
from smmpanel.catalog.models import AccountServiceRate, CatalogVersion


@dataclass(frozen=True)
class CatalogState:
    """The version, and whether the account has prices of its own (then its
    list is its own; without, it is every other account's of its currency)."""

    version: int | None  # None: the counter's row is missing, nothing may be kept
    custom_rates: bool


def caller_and_catalog(reader: Session | Connection, digest: str) -> tuple[Principal, CatalogState]:
    """The key checked and the catalog's state read in one statement (one
    snapshot, one round trip), before the list it may keep: read after, the
    version could be newer than the list (a change committed between two
    statements on PostgreSQL), and the stale list would be kept under it."""
    return caller_and_catalog_of(
        reader.execute(KEY_AND_CATALOG, {"digest": digest}).first(), digest
    )


def caller_and_catalog_of(row: Any, digest: str) -> tuple[Principal, CatalogState]:
    """What a row of KEY_AND_CATALOG says (InvalidApiKey: no such key)."""
    who = principal_of(row, digest)
    version = row.catalog_version
    return who, CatalogState(
        version=None if version is None else int(version), custom_rates=bool(row.custom_rates)
    )


def catalog_version(reader: Session | Connection) -> int | None:
    return reader.execute(select(CatalogVersion.version).where(CatalogVersion.id == 1)).scalar()


# Built once, as the key check itself is: every `services` call runs it (public
# for the event loop's own SQLite connection, api_v2/loop_reads.py).
KEY_AND_CATALOG = key_check_with(
    select(CatalogVersion.version)
    .where(CatalogVersion.id == 1)
    .scalar_subquery()
    .label("catalog_version"),
    exists()
    .where(AccountServiceRate.account_id == Account.id)
    .correlate(Account)
    .label("custom_rates"),
)
