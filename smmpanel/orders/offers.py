"""What placing an order reads besides the order: the service, the account's
price of it, whether providers fulfil it and the duplicate-link scope.

One statement reads them all (they were four, each ~50 us of SQLAlchemy on
the hot path, measured), and `Offers` keeps what it read for the rest of the
transaction: a batch of the group commit (api_v2/group_add.py) whose orders
share an account and a service reads them once.  That is correct because
placing an order never writes any of it (services, custom rates, currencies,
service sources, settings): within the transaction, a later order of the
batch would read the same values, and on PostgreSQL a change committed by
another transaction meanwhile is one a lone `add` could have missed the same
way (it reads, then the change commits, then the order commits).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, exists, select

from smmpanel.accounts.models import Account, Currency
from smmpanel.catalog.models import AccountServiceRate, Service, ServiceSource
from smmpanel.catalog.pricing import account_rate
from smmpanel.panel.settings import LINK_SCOPE_COLUMNS, link_scope_of


@dataclass(frozen=True)
class Offer:
    """A service as one account orders it."""

    # The service's row: id, type, rate, min_quantity, max_quantity, dripfeed,
    # link_required, enabled (what orders.validation.draft_order reads).
    service: Any
    currency: str
    # The account's price per 1000, in its currency (catalog.pricing.account_rate).
    rate: int
    provider_backed: bool
    link_scope: str


class Offers:
    """The offers read in one transaction, by account and service (a missing
    service too).  Make one per transaction: `clear` it when the transaction
    starts again (a batch run again after a deadlock)."""

    def __init__(self) -> None:
        self._read: dict[tuple[int, int], Offer | None] = {}

    def clear(self) -> None:
        self._read.clear()

    def of(self, reader: Connection, account_id: int, service_id: int) -> Offer | None:
        """The offer of `service_id` to `account_id`; None when no such service."""
        key = (account_id, service_id)
        if key not in self._read:
            row = reader.execute(_OFFER, {"account_id": account_id, "service_id": service_id})
            self._read[key] = _offer_of(row.first())
        return self._read[key]


def _offer_of(row: Any) -> Offer | None:
    if row is None:
        return None
    return Offer(
        service=row,
        currency=row.currency,
        rate=account_rate(row.rate, row.custom_rate, Decimal(row.fx_rate)),
        provider_backed=bool(row.provider_backed),
        link_scope=link_scope_of(row.link_scope, row.legacy_link_check),
    )


# Built once (building a statement per call cost as much as running it).
_OFFER = (
    select(
        Service.id,
        Service.type,
        Service.rate,
        Service.min_quantity,
        Service.max_quantity,
        Service.dripfeed,
        Service.link_required,
        Service.enabled,
        Account.currency,
        Currency.rate.label("fx_rate"),
        AccountServiceRate.rate.label("custom_rate"),
        exists().where(ServiceSource.service_id == Service.id).label("provider_backed"),
        LINK_SCOPE_COLUMNS[0].label("link_scope"),
        LINK_SCOPE_COLUMNS[1].label("legacy_link_check"),
    )
    .select_from(Service)
    .join(Account, Account.id == bindparam("account_id"))
    .join(Currency, Currency.code == Account.currency)
    .outerjoin(
        AccountServiceRate,
        (AccountServiceRate.account_id == Account.id)
        & (AccountServiceRate.service_id == Service.id),
    )
    .where(Service.id == bindparam("service_id"))
)
