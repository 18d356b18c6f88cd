"""What the web admin shows of an order's providers: each upstream call made for
it and the answer recorded, and the providers' names for the orders list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from smmpanel.db import Database
from smmpanel.providers.models import Provider, ProviderOrderRecord
from smmpanel.timeutil import as_utc

MAX_CALLS = 500


@dataclass(frozen=True)
class CallRow:
    at: datetime
    provider: str
    action: str  # add, refill, cancel, ...
    outcome: str  # accepted, unreachable, unknown, an error code, ...
    detail: str


def order_calls(db: Database, order_id: int) -> list[CallRow]:
    """The upstream calls recorded for the order, oldest first."""
    query = (
        select(
            ProviderOrderRecord.created_at,
            Provider.name,
            ProviderOrderRecord.action,
            ProviderOrderRecord.outcome,
            ProviderOrderRecord.detail,
        )
        .join(Provider, Provider.id == ProviderOrderRecord.provider_id)
        .where(ProviderOrderRecord.order_id == order_id)
        .order_by(ProviderOrderRecord.id)
        .limit(MAX_CALLS)
    )
    with db.read() as session:
        return [
            CallRow(as_utc(at), name, action, outcome, detail)
            for at, name, action, outcome, detail in session.execute(query)
        ]


def provider_names(db: Database) -> dict[int, str]:
    """Every provider's name by id (the filters and the list's column)."""
    with db.read() as session:
        rows = session.execute(select(Provider.id, Provider.name).order_by(Provider.name))
        return {provider_id: name for provider_id, name in rows}
