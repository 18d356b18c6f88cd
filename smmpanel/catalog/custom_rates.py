"""Reading one account's own prices (custom rates), for the admin's customer page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from smmpanel.catalog.models import AccountServiceRate, Service
from smmpanel.db import Database


@dataclass(frozen=True)
class CustomRate:
    service_id: int
    service_name: str
    rate: int  # per 1000, minor units of the base currency
    service_rate: int  # the service's own price, to compare


def account_custom_rates(db: Database, *, account_id: int) -> list[CustomRate]:
    """The account's own prices, by service id (an account has a handful)."""
    query = (
        select(AccountServiceRate.service_id, Service.name, AccountServiceRate.rate, Service.rate)
        .join(Service, Service.id == AccountServiceRate.service_id)
        .where(AccountServiceRate.account_id == account_id)
        .order_by(AccountServiceRate.service_id)
    )
    with db.read() as session:
        return [CustomRate(*row) for row in session.execute(query)]
