"""Which upstream services back each local service, for the owner's pages, and
the order in which forwarding tries them (`forwarding.py` goes by priority)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import record_audit, subject
from smmpanel.catalog.errors import ServiceNotFound
from smmpanel.catalog.models import Service, ServiceSource
from smmpanel.db import Database
from smmpanel.money import format_units
from smmpanel.providers.errors import InvalidProvider, ProviderNotFound
from smmpanel.providers.models import Provider
from smmpanel.providers.service import audited_source, provider_by_name


@dataclass(frozen=True)
class SourceView:
    provider: str
    provider_status: str
    upstream_service_id: str
    priority: int
    # None: priced by hand (price sync leaves the rate alone).
    markup_percent: str | None
    markup_fixed: str
    round_places: int


def service_sources(
    db: Database, service_ids: Collection[int] | None = None
) -> dict[int, list[SourceView]]:
    """Each service's mappings in the order forwarding tries them."""
    query = (
        select(ServiceSource, Provider.name, Provider.status)
        .join(Provider, Provider.id == ServiceSource.provider_id)
        .order_by(ServiceSource.service_id, ServiceSource.priority, ServiceSource.id)
    )
    if service_ids is not None:
        query = query.where(ServiceSource.service_id.in_(list(service_ids)))
    found: dict[int, list[SourceView]] = defaultdict(list)
    with db.read() as session:
        for source, name, status in session.execute(query):
            found[source.service_id].append(
                SourceView(
                    provider=name,
                    provider_status=status,
                    upstream_service_id=source.upstream_service_id,
                    priority=source.priority,
                    markup_percent=source.markup_percent,
                    markup_fixed=format_units(source.markup_fixed),
                    round_places=source.round_places,
                )
            )
    return dict(found)


def provider_names(db: Database) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(Provider.name).order_by(Provider.name)))


def move_service_source(
    db: Database, *, service_id: int, provider_name: str, offset: int, actor: Actor
) -> None:
    """Swap a mapping with the one tried before it (offset -1) or after it (+1).
    Priorities are renumbered 1..n in the current order first (two mappings may
    share one); every mapping whose priority changes is audited."""
    if offset not in (-1, 1):
        raise InvalidProvider("a mapping moves one place up or down")
    with db.write() as session:
        if session.get(Service, service_id) is None:
            raise ServiceNotFound(f"no service {service_id}")
        provider = provider_by_name(session, provider_name)
        ordered = list(
            session.scalars(
                select(ServiceSource)
                .where(ServiceSource.service_id == service_id)
                .order_by(ServiceSource.priority, ServiceSource.id)
            )
        )
        index = next((i for i, s in enumerate(ordered) if s.provider_id == provider.id), None)
        if index is None:
            raise ProviderNotFound(f"service {service_id} is not mapped to {provider_name}")
        target = index + offset
        if 0 <= target < len(ordered):
            ordered[index], ordered[target] = ordered[target], ordered[index]
        for priority, source in enumerate(ordered, start=1):
            if source.priority != priority:
                before = audited_source(source)
                source.priority = priority
                record_audit(
                    session,
                    actor=actor,
                    action=AuditAction.SERVICE_MAPPED,
                    subject=subject("service", service_id),
                    before=before,
                    after=audited_source(source),
                )
