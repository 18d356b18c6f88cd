"""Importing upstream services with a markup, and keeping their prices in sync.

Importing creates each local service together with its mapping in one
transaction, so a crash never leaves a service that a second import would
duplicate.  Price sync refreshes the upstream catalogs (calls outside any
transaction), then reprices every affected service in one transaction; see
`sync_prices` for which mapping sets a price.  Reading balances and catalogs,
and the markup arithmetic, live in `catalog_sync_upstream`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import record_audit, subject
from smmpanel.catalog.models import Service, ServiceSource
from smmpanel.catalog.service import MAX_QUANTITY, ServiceSpec, _insert_service, takes_no_link
from smmpanel.catalog.types import DEFAULT
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.money import from_units
from smmpanel.providers.catalog_sync_upstream import (
    CatalogDiff,
    Markup,
    RateChange,
    ensure_currency,
    exchange_rate,
    fetch_provider_balance,
    id_key,
    local_type,
    provider_access,
    refresh_upstream_catalog,
)
from smmpanel.providers.errors import InvalidProvider, ProviderUnavailable
from smmpanel.providers.models import Provider, UpstreamService
from smmpanel.providers.service import audited_source

__all__ = [
    "CatalogDiff",
    "ImportResult",
    "ImportedService",
    "Markup",
    "PriceSyncReport",
    "RateChange",
    "fetch_provider_balance",
    "import_provider_services",
    "local_type",
    "refresh_upstream_catalog",
    "sync_prices",
    "sync_prices_job",
]

log = logging.getLogger("smmpanel.catalog_sync")


# --- reports ------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedService:
    service_id: int
    upstream_id: str
    name: str
    upstream_rate: Decimal  # in the provider's currency
    rate: Decimal  # the local rate, base currency


@dataclass
class ImportResult:
    provider: str
    catalog: CatalogDiff
    created: list[ImportedService] = field(default_factory=list)
    already_imported: dict[str, int] = field(default_factory=dict)  # upstream id -> service
    not_found: list[str] = field(default_factory=list)  # asked-for ids not listed upstream
    failed: dict[str, str] = field(default_factory=dict)  # upstream id -> reason
    unknown_type: list[str] = field(default_factory=list)  # imported as Default


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


# --- import --------------------------------------------------------------------------


def import_provider_services(
    db: Database,
    *,
    provider_name: str,
    markup_percent: Decimal | str = "0",
    markup_fixed: Decimal | str = "0",
    round_places: int = 2,
    category: str | None = None,
    upstream_ids: list[str] | None = None,
    actor: Actor = Actor.system(),
) -> ImportResult:
    """Create a local service, priced with the markup, for each selected upstream
    service not yet mapped from this provider (refreshing the catalog first)."""
    markup = Markup.parse(markup_percent, markup_fixed, round_places)
    access = provider_access(db, provider_name)
    currency = ensure_currency(db, access)
    with db.read() as session:
        fx = exchange_rate(session, currency)
    if fx is None:
        raise InvalidProvider(
            f"provider {access.name!r} prices in {currency}: set an exchange rate for "
            f"{currency} first (smmpanel currencies set {currency} RATE)"
        )
    result = ImportResult(access.name, refresh_upstream_catalog(db, provider_name=access.name))
    with db.read() as session:
        rows = session.scalars(
            select(UpstreamService).where(
                UpstreamService.provider_id == access.id, UpstreamService.gone.is_(False)
            )
        ).all()
        mapped = _mapped(session, access.id)
    rows = sorted(rows, key=lambda row: id_key(row.upstream_id))
    if upstream_ids is not None:
        wanted = {str(u).strip() for u in upstream_ids}
        result.not_found = sorted(wanted - {row.upstream_id for row in rows}, key=id_key)
        rows = [row for row in rows if row.upstream_id in wanted]
    if category is not None:
        rows = [row for row in rows if row.category == category.strip()]
    for row in rows:
        if row.upstream_id in mapped:
            result.already_imported[row.upstream_id] = mapped[row.upstream_id]
            continue
        try:
            _import_one(db, access.id, row, markup, fx, result, actor=actor)
        except DomainError as exc:
            result.failed[row.upstream_id] = str(exc)
    return result


def _mapped(session: Session, provider_id: int) -> dict[str, int]:
    pairs = session.execute(
        select(ServiceSource.upstream_service_id, ServiceSource.service_id)
        .where(ServiceSource.provider_id == provider_id)
        .order_by(ServiceSource.service_id)
    ).all()
    found: dict[str, int] = {}
    for upstream_id, service_id in pairs:
        found.setdefault(upstream_id, service_id)
    return found


def _import_one(
    db: Database,
    provider_id: int,
    row: UpstreamService,
    markup: Markup,
    fx: Decimal,
    result: ImportResult,
    *,
    actor: Actor,
) -> None:
    rate = markup.rate_units(row.rate, fx)
    raw = row.raw or {}
    description = raw.get("description") or raw.get("desc") or ""
    spec = ServiceSpec(
        name=row.name,
        type=row.type,
        category=row.category,
        rate=from_units(rate),
        min_quantity=row.min_quantity,
        # Upstream "unlimited" maxima (2147483647) become this panel's ceiling.
        max_quantity=min(row.max_quantity, MAX_QUANTITY),
        dripfeed=row.dripfeed,
        refill=row.refill,
        cancel=row.cancel,
        # The `services` answer has no link field; the name says "[No link]".
        link_required=not takes_no_link(row.name),
        description=description if isinstance(description, str) else "",
    )
    with db.write() as session:
        mapped_to = session.scalar(
            select(ServiceSource.service_id)
            .where(
                ServiceSource.provider_id == provider_id,
                ServiceSource.upstream_service_id == row.upstream_id,
            )
            .limit(1)
        )
        if mapped_to is not None:  # imported meanwhile by someone else
            result.already_imported[row.upstream_id] = mapped_to
            return
        service = _insert_service(session, spec, None, actor=actor)
        source = ServiceSource(
            service_id=service.id,
            provider_id=provider_id,
            upstream_service_id=row.upstream_id,
            priority=1,
            **markup.stored(),
        )
        session.add(source)
        record_audit(
            session,
            actor=actor,
            action=AuditAction.SERVICE_MAPPED,
            subject=subject("service", service.id),
            after=audited_source(source),
        )
    if row.type == DEFAULT and str(raw.get("type") or "default").strip().lower() != "default":
        result.unknown_type.append(row.upstream_id)
    result.created.append(
        ImportedService(
            service.id, row.upstream_id, row.name, from_units(row.rate), from_units(rate)
        )
    )


# --- price sync ----------------------------------------------------------------------


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
            _reprice(session, refreshed, returned, report)
            _audit_repricing(session, report, actor)
    return report


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
) -> None:
    affected = select(ServiceSource.service_id).where(ServiceSource.provider_id.in_(refreshed))
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
        _reprice_one(session, service, by_service[service.id], known, report)


def _reprice_one(
    session: Session,
    service: Service,
    mapped: list[ServiceSource],
    known: _Known,
    report: PriceSyncReport,
) -> None:
    available = [source for source in mapped if known.available(source)]
    if not available:
        (report.disabled if service.enabled else report.unchanged).append(service.id)
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
