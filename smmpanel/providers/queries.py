"""Owner views of where orders stand with their providers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from smmpanel.db import Database
from smmpanel.orders.models import Order
from smmpanel.providers.models import Provider


@dataclass(frozen=True)
class Forwarding:
    """Where an order is on its way to a provider."""

    state: str | None
    provider: str | None
    waiting_since: datetime | None
    problem: str


def forwarding_of(db: Database, order_ids: Sequence[int]) -> dict[int, Forwarding]:
    if not order_ids:
        return {}
    query = (
        select(
            Order.id, Order.forward_state, Provider.name, Order.waiting_since, Order.forward_error
        )
        .outerjoin(Provider, Provider.id == Order.provider_id)
        .where(Order.id.in_(list(set(order_ids))))
    )
    with db.read() as session:
        return {row[0]: Forwarding(*row[1:]) for row in session.execute(query)}
