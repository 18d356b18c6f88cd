"""Importing upstream services with a markup, and keeping their prices in sync.

Importing creates each local service together with its mapping in one
transaction, so a crash never leaves a service that a second import would
duplicate.  Price sync lives in `price_sync` (re-exported here); reading
balances and catalogs, and the markup arithmetic, in `catalog_sync_upstream`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import record_audit, subject
from smmpanel.catalog.models import ServiceSource
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
from smmpanel.providers.errors import InvalidProvider
from smmpanel.providers.import_plan import (
    ImportPlanChanged,
    PlannedImport,
    plan_digest,
    plan_entry,
)
from smmpanel.providers.models import Provider, UpstreamService
from smmpanel.providers.price_sync import PriceSyncReport, sync_prices, sync_prices_job
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
    "read_provider_catalog",
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
    planned: list[PlannedImport] = field(default_factory=list)  # created, or to be (dry run)
    digest: str = ""  # of `planned` and the markup (import_plan.plan_digest)


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
    into_category: str | None = None,
    refresh: bool = True,
    dry_run: bool = False,
    expect_digest: str | None = None,
    actor: Actor = Actor.system(),
) -> ImportResult:
    """Create a local service, priced with the markup, for each selected upstream
    service not yet mapped from this provider (refreshing the catalog first
    unless `refresh` is False: then the catalog as last read is used).

    `dry_run` computes `planned` (and its `digest`) and writes nothing (not even
    the catalog: it needs refresh=False); `expect_digest` refuses the import
    (ImportPlanChanged) when the plan is no longer the one a preview showed.
    `into_category` puts every new service in that local category instead of
    one named like its upstream category."""
    markup = Markup.parse(markup_percent, markup_fixed, round_places)
    if dry_run and refresh:
        raise InvalidProvider("a dry run reads the stored catalog: refresh=False")
    access = provider_access(db, provider_name)
    currency = ensure_currency(db, access) if refresh else _known_currency(db, access.id)
    with db.read() as session:
        fx = exchange_rate(session, currency)
    if fx is None:
        raise InvalidProvider(
            f"provider {access.name!r} prices in {currency}: set an exchange rate for "
            f"{currency} first (smmpanel currencies set {currency} RATE)"
        )
    diff = refresh_upstream_catalog(db, provider_name=access.name) if refresh else None
    result = ImportResult(access.name, diff or CatalogDiff(access.name))
    with db.read() as session:
        rows = session.scalars(
            select(UpstreamService).where(
                UpstreamService.provider_id == access.id, UpstreamService.gone.is_(False)
            )
        ).all()
        mapped = _mapped(session, access.id)
    listed = {row.upstream_id for row in rows}
    rows = sorted(rows, key=lambda row: id_key(row.upstream_id))
    if category is not None:
        rows = [row for row in rows if row.category == category.strip()]
    into = (into_category or "").strip() or None
    # The digest covers every service the preview offers, before the owner
    # ticks some of them: the apply then names its choice with upstream_ids.
    offered = [plan_entry(row, markup, fx, into) for row in rows if row.upstream_id not in mapped]
    result.digest = plan_digest(offered, markup)
    if expect_digest is not None and expect_digest != result.digest:
        raise ImportPlanChanged(
            "the provider's catalog or the markup changed since the preview: check it again"
        )
    if upstream_ids is not None:
        wanted = {str(u).strip() for u in upstream_ids}
        result.not_found = sorted(wanted - listed, key=id_key)
        rows = [row for row in rows if row.upstream_id in wanted]
    result.already_imported = {
        r.upstream_id: mapped[r.upstream_id] for r in rows if r.upstream_id in mapped
    }
    new_rows = [row for row in rows if row.upstream_id not in mapped]
    result.planned = [plan_entry(row, markup, fx, into) for row in new_rows]
    if dry_run:
        return result
    for row in new_rows:
        try:
            _import_one(db, access.id, row, markup, fx, result, into=into, actor=actor)
        except DomainError as exc:
            result.failed[row.upstream_id] = str(exc)
    return result


def _known_currency(db: Database, provider_id: int) -> str | None:
    """The provider's currency as last read with its balance (None: it names none)."""
    with db.read() as session:
        provider = session.get(Provider, provider_id)
        if provider is None or provider.balance_checked_at is None:
            raise InvalidProvider(
                "the provider's currency is not known yet: refresh its balance first"
            )
        return provider.currency


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
    into: str | None,
    actor: Actor,
) -> None:
    rate = markup.rate_units(row.rate, fx)
    raw = row.raw or {}
    description = raw.get("description") or raw.get("desc") or ""
    spec = ServiceSpec(
        name=row.name,
        type=row.type,
        category=into or row.category,
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


def read_provider_catalog(db: Database, *, provider_name: str) -> CatalogDiff:
    """Ask the provider for its catalogue (and its currency, the first time) and
    store it: what the admin's import preview and price report then read."""
    ensure_currency(db, provider_access(db, provider_name))
    return refresh_upstream_catalog(db, provider_name=provider_name)
