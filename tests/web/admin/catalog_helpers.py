"""What the catalog section's tests share: audit rows, services as stored,
providers that are never called (the pages only map to them)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from smmpanel.audit.models import AuditEntry
from smmpanel.catalog.models import Category, Service, ServiceSource
from smmpanel.db import Database
from smmpanel.providers.models import Provider
from smmpanel.providers.service import add_provider


def audit(db: Database, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(actor, subject, details) of every audit row of `action`, oldest first."""
    with db.read() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.subject, AuditEntry.details)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.id)
        ).all()
    return [(actor, subj, json.loads(details)) for actor, subj, details in rows]


def stored(db: Database, service_id: int) -> Service:
    with db.read() as session:
        service = session.get(Service, service_id)
        assert service is not None
        session.expunge(service)
        return service


def category_order(db: Database) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(Category.name).order_by(Category.position, Category.id)))


def category_id(db: Database, name: str) -> int:
    with db.read() as session:
        found = session.scalar(select(Category.id).where(Category.name == name))
        assert found is not None
        return found


def service_category(db: Database, service_id: int) -> str:
    with db.read() as session:
        return session.execute(
            select(Category.name)
            .join(Service, Service.category_id == Category.id)
            .where(Service.id == service_id)
        ).scalar_one()


def quiet_provider(db: Database, name: str) -> None:
    """A provider at a closed loopback port: nothing here calls it."""
    add_provider(db, name=name, api_url="http://127.0.0.1:9/api/v2", api_key=f"key-{name}")


def mapping(db: Database, service_id: int) -> list[tuple[str, str, int]]:
    """(provider, upstream id, priority) in the order forwarding tries them."""
    with db.read() as session:
        rows = session.execute(
            select(Provider.name, ServiceSource.upstream_service_id, ServiceSource.priority)
            .join(Provider, Provider.id == ServiceSource.provider_id)
            .where(ServiceSource.service_id == service_id)
            .order_by(ServiceSource.priority, ServiceSource.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]
