"""The catalog's version: a counter that database triggers bump on every change
of what the API's `services` answer is made of (migration 0019), so that any
process can tell with one indexed read whether a list it keeps is still right."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, exists, select
from sqlalchemy.orm import Session

from smmpanel.catalog.models import AccountServiceRate, CatalogVersion


@dataclass(frozen=True)
class CatalogState:
    """The version, and whether the account has prices of its own (then its
    list is its own; without, it is every other account's of its currency)."""

    version: int | None  # None: the counter's row is missing, nothing may be cached
    custom_rates: bool


def catalog_state(reader: Session | Connection, account_id: int) -> CatalogState:
    """Read in the caller's transaction, before the list it may cache: read
    after, the version could be newer than the list (a change committed between
    the two statements on PostgreSQL), and the stale list would be kept."""
    row = reader.execute(_STATE, {"account_id": account_id}).first()
    if row is None:
        return CatalogState(version=None, custom_rates=True)
    return CatalogState(version=int(row.version), custom_rates=bool(row.custom_rates))


def catalog_version(reader: Session | Connection) -> int | None:
    return reader.execute(select(CatalogVersion.version).where(CatalogVersion.id == 1)).scalar()


# Built once, as the key check's statement (accounts/queries.py): one call of
# `services` runs it on every hit.
_STATE = select(
    CatalogVersion.version,
    exists()
    .where(AccountServiceRate.account_id == bindparam("account_id"))
    .label("custom_rates"),
).where(CatalogVersion.id == 1)
