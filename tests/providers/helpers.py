"""Reading back what the catalog sync stored."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from smmpanel.catalog.models import Category, Service, ServiceSource
from smmpanel.db import Database
from smmpanel.providers.models import Provider, UpstreamService
from smmpanel.simulator.testing import RunningSimulator


def upstream_rates(sim: RunningSimulator) -> dict[str, Decimal]:
    """The simulator's current catalog: upstream id -> rate, as it answers it."""
    return {str(s["service"]): Decimal(s["rate"]) for s in sim.control.catalog()}


def service(db: Database, service_id: int) -> Service:
    with db.read() as session:
        row = session.get(Service, service_id)
        assert row is not None
        return row


def category_of(db: Database, service_id: int) -> str:
    with db.read() as session:
        row = session.get(Category, service(db, service_id).category_id)
        assert row is not None
        return row.name


def sources(db: Database, service_id: int) -> list[ServiceSource]:
    with db.read() as session:
        query = select(ServiceSource).where(ServiceSource.service_id == service_id)
        return list(session.scalars(query.order_by(ServiceSource.priority)))


def upstream_row(db: Database, provider_name: str, upstream_id: str) -> UpstreamService:
    with db.read() as session:
        provider_id = session.scalar(select(Provider.id).where(Provider.name == provider_name))
        row = session.get(UpstreamService, (provider_id, upstream_id))
        assert row is not None
        return row


def count(db: Database, model: type[Service] | type[ServiceSource]) -> int:
    with db.read() as session:
        return len(session.scalars(select(model)).all())
