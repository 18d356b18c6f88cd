"""Keeping the prices of imported services in sync with their upstream rates.

`sync_prices` (the hourly `price_sync` job and `smmpanel providers
sync-prices`) refreshes the upstream catalogs (calls outside any transaction),
then reprices every affected service in one transaction.  The admin's report
uses the same repricing without asking anyone: `review_prices` shows what it
would change with the catalogs as last read, `apply_reviewed_prices` does it
(for all services or some).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import record_audit, subject
from smmpanel.catalog.models import Service, ServiceSource
from smmpanel.db import Database
from smmpanel.money import from_units
from smmpanel.providers.catalog_sync_upstream import (
    CatalogDiff,
    Markup,
    RateChange,
    ensure_currency,
    exchange_rate,
    provider_access,
    refresh_upstream_catalog,
)
from smmpanel.providers.errors import InvalidProvider, ProviderUnavailable
from smmpanel.providers.models import Provider, UpstreamService
from smmpanel.providers.service import provider_by_name

log = logging.getLogger("smmpanel.catalog_sync")


@dataclass
class PriceSyncReport:
    providers: list[str] = field(default_factory=list)  # refreshed
    catalogs: list[CatalogDiff] = field(default_factory=list)
    changed: list[RateChange] = field(default_factory=list)  # by local service id
    disabled: list[int] = field(default_factory=list)
    back: list[int] = field(default_factory=list)  # disabled, an upstream is listed again
    unchanged: list[int] = field(default_factory=list)
    manual: list[int] = field(default_factory=list)  # priced by hand, left alone
    errors: dict[str, str] = field(default_factory=dict)  # provider -> why skipped

    def summary(self) -> str:
        text = (
            f"price sync ({', '.join(self.providers) or 'no provider'}): "
            f"{len(self.changed)} changed, {len(self.disabled)} disabled, "
            f"{len(self.back)} upstream back, {len(self.unchanged)} unchanged, "
            f"{len(self.manual)} priced by hand"
        )
        return text + "".join(f"; {name}: {why}" for name, why in self.errors.items())


def sync_prices(
    db: Database, *, provider_name: str | None = None, actor: Actor = Actor.system()
) -> PriceSyncReport:
    """Refresh the catalog of one provider (or of each one) and reprice the local
    services they back.

    For each such service the first mapping (by priority) whose upstream service
    is still listed sets the price: with a markup the rate is recomputed, without
    one (priced by hand) it is left alone.  A service none of whose mappings is
    listed any more is disabled; it is never re-enabled automatically: when an
    upstream service of a disabled one is listed again, it is reported as back.
    A named provider that cannot be reached raises; otherwise it is skipped and
    reported in `errors`.
    """
    report = PriceSyncReport()
    names = [provider_name] if provider_name is not None else _provider_names(db)
    refreshed: set[int] = set()
    returned: set[tuple[int, str]] = set()
    for name in names:
        try:
            access = provider_access(db, name)
            ensure_currency(db, access)
            diff = refresh_upstream_catalog(db, provider_name=name)
        except (ProviderUnavailable, InvalidProvider) as exc:
            if provider_name is not None:
                raise
            report.errors[name] = str(exc)
            continue
        report.providers.append(name)
        report.catalogs.append(diff)
        refreshed.add(access.id)
        returned.update((access.id, upstream_id) for upstream_id in diff.returned)
    if refreshed:
        with db.write() as session:
            _reprice(session, refreshed, returned, report, apply=True)
            _audit_repricing(session, report, actor)
    return report


def review_prices(db: Database, *, provider_name: str | None = None) -> PriceSyncReport:
    """What a price sync would change now with the catalogs as last read, asking
    no provider and writing nothing (the admin's price-sync report).  `back`
    stays empty: it needs a fresh read to know what has just returned."""
    report = PriceSyncReport()
    with db.read() as session:
        providers = _providers(session, provider_name)
        report.providers = [name for _, name in providers]
        _reprice(session, {id_ for id_, _ in providers}, set(), report, apply=False)
    return report


def apply_reviewed_prices(
    db: Database,
    *,
    provider_name: str | None = None,
    service_ids: Collection[int] | None = None,
    actor: Actor,
) -> PriceSyncReport:
    """Apply what `review_prices` shows, to every service or to `service_ids`
    only, in one transaction, with the same rule as `sync_prices` (new rates by
    the mapping's markup; services whose upstream is gone disabled)."""
    report = PriceSyncReport()
    only = None if service_ids is None else set(service_ids)
    with db.write() as session:
        providers = _providers(session, provider_name)
        report.providers = [name for _, name in providers]
        ids = {id_ for id_, _ in providers}
        _reprice(session, ids, set(), report, apply=True, only=only)
        _audit_repricing(session, report, actor)
    return report


def _providers(session: Session, name: str | None) -> list[tuple[int, str]]:
    query = select(Provider.id, Provider.name).order_by(Provider.id)
    if name is not None:
        provider_by_name(session, name)  # ProviderNotFound
        query = query.where(Provider.name == name)
    return [(row[0], row[1]) for row in session.execute(query)]


def _audit_repricing(session: Session, report: PriceSyncReport, actor: Actor) -> None:
    for change in report.changed:
        record_audit(
            session,
            actor=actor,
            action=AuditAction.SERVICE_CHANGED,
            subject=subject("service", change.id),
            before={"rate": str(change.old_rate)},
            after={"rate": str(change.new_rate), "by": "price sync"},
        )
    for service_id in report.disabled:
        record_audit(
            session,
            actor=actor,
            action=AuditAction.SERVICE_CHANGED,
            subject=subject("service", service_id),
            before={"enabled": True},
            after={"enabled": False, "by": "price sync: upstream service gone"},
        )


def _provider_names(db: Database) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(Provider.name).order_by(Provider.id)))


@dataclass
class _Known:
    """What price sync knows of the upstream services behind the affected services."""

    upstream: dict[tuple[int, str], UpstreamService]
    read: set[int]  # providers whose catalog has been read at some time
    returned: set[tuple[int, str]]
    providers: dict[int, Provider]
    fx: dict[int, Decimal | None] = field(default_factory=dict)

    def row(self, source: ServiceSource) -> UpstreamService | None:
        return self.upstream.get((source.provider_id, source.upstream_service_id))

    def available(self, source: ServiceSource) -> bool:
        """Listed, or of a provider whose catalog was never read (unknown, not gone)."""
        row = self.row(source)
        return (row is not None and not row.gone) or source.provider_id not in self.read

    def exchange(
        self, session: Session, provider_id: int, report: PriceSyncReport
    ) -> Decimal | None:
        if provider_id not in self.fx:
            provider = self.providers[provider_id]
            self.fx[provider_id] = exchange_rate(session, provider.currency)
            if self.fx[provider_id] is None:
                report.errors[provider.name] = f"no exchange rate for {provider.currency}"
        return self.fx[provider_id]


def _reprice(
    session: Session,
    refreshed: set[int],
    returned: set[tuple[int, str]],
    report: PriceSyncReport,
    *,
    apply: bool,
    only: set[int] | None = None,
) -> None:
    """Reprice the services backed by the `refreshed` providers (`only` those
    ids when given); `apply=False` reports without changing a service."""
    affected = select(ServiceSource.service_id).where(ServiceSource.provider_id.in_(refreshed))
    if only is not None:
        affected = affected.where(ServiceSource.service_id.in_(only))
    sources = session.scalars(
        select(ServiceSource)
        .where(ServiceSource.service_id.in_(affected))
        .order_by(ServiceSource.service_id, ServiceSource.priority, ServiceSource.id)
    ).all()
    provider_ids = {source.provider_id for source in sources}
    upstream = {
        (row.provider_id, row.upstream_id): row
        for row in session.scalars(
            select(UpstreamService).where(UpstreamService.provider_id.in_(provider_ids))
        )
    }
    providers = session.scalars(select(Provider).where(Provider.id.in_(provider_ids)))
    known = _Known(
        upstream,
        {provider_id for provider_id, _ in upstream} | refreshed,
        returned,
        {provider.id: provider for provider in providers},
    )
    by_service: dict[int, list[ServiceSource]] = {}
    for source in sources:
        by_service.setdefault(source.service_id, []).append(source)
    services = session.scalars(select(Service).where(Service.id.in_(affected)))
    for service in sorted(services, key=lambda s: s.id):
        _reprice_one(session, service, by_service[service.id], known, report, apply=apply)


def _reprice_one(
    session: Session,
    service: Service,
    mapped: list[ServiceSource],
    known: _Known,
    report: PriceSyncReport,
    *,
    apply: bool,
) -> None:
    available = [source for source in mapped if known.available(source)]
    if not available:
        (report.disabled if service.enabled else report.unchanged).append(service.id)
        if apply:
            service.enabled = False
        return
    if not service.enabled and any(
        (source.provider_id, source.upstream_service_id) in known.returned for source in available
    ):
        report.back.append(service.id)
    source, row = available[0], known.row(available[0])
    markup = Markup.of_source(source)
    if markup is None:
        report.manual.append(service.id)
        return
    fx = known.exchange(session, source.provider_id, report)
    new_rate = None if row is None or fx is None else markup.rate_units(row.rate, fx)
    if new_rate is None or new_rate == service.rate:
        report.unchanged.append(service.id)
        return
    report.changed.append(RateChange(service.id, from_units(service.rate), from_units(new_rate)))
    if apply:
        service.rate = new_rate


def sync_prices_job(db: Database, payload: dict[str, Any]) -> None:
    """Job handler (kind `price_sync`): payload `{"provider_id": N}` or `{}` for all."""
    provider_name: str | None = None
    provider_id = payload.get("provider_id")
    if provider_id is not None:
        with db.read() as session:
            provider = session.get(Provider, int(provider_id))
            if provider is None:
                log.warning("price sync: no provider %s; nothing to do", provider_id)
                return
            provider_name = provider.name
    report = sync_prices(db, provider_name=provider_name, actor=Actor.worker())
    log.info("%s", report.summary())
