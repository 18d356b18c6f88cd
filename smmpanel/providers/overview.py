"""What the admin's providers pages show: each provider's standing (status,
balance as last read, health), its catalogue as last read with our mapping of
it, and the details behind a price-sync report.  Read only; the key is never
read here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smmpanel.catalog.models import Service, ServiceSource
from smmpanel.db import Database
from smmpanel.money import from_units
from smmpanel.orders.models import ACTIVE_STATUSES, Order
from smmpanel.panel.models import Alert
from smmpanel.providers.errors import ProviderNotFound
from smmpanel.providers.models import Provider, ProviderOrderRecord, UpstreamService
from smmpanel.providers.price_sync import PriceSyncReport, review_prices
from smmpanel.timeutil import utcnow

RECENT_CALLS = 20
# What forwarding records of a call that worked (the rest are failures).
ACCEPTED = "accepted"
ERROR_WINDOW = timedelta(hours=24)
# A catalogue page shows this many entries at most (the rest: narrow by category).
CATALOG_LIMIT = 1000


@dataclass(frozen=True)
class ProviderRow:
    id: int
    name: str
    api_url: str
    method: str
    status: str
    paused_reason: str
    balance: Decimal | None
    currency: str | None
    balance_checked_at: datetime | None
    request_id: bool
    lookup_url: str
    timeout: float | None
    mapped: int  # our services forwarded to it
    listed: int  # its services as last read (not gone)
    catalog_read_at: datetime | None
    errors_24h: int  # failed forwarding calls
    alerts: int  # open alerts about it


def provider_rows(db: Database) -> list[ProviderRow]:
    with db.read() as session:
        providers = session.scalars(select(Provider).order_by(Provider.id)).all()
        return [_row(session, p) for p in providers]


def provider_row(db: Database, provider_id: int) -> ProviderRow:
    with db.read() as session:
        provider = session.get(Provider, provider_id)
        if provider is None:
            raise ProviderNotFound(f"no provider {provider_id}")
        return _row(session, provider)


def _row(session: Session, provider: Provider) -> ProviderRow:
    dialect = provider.dialect or {}
    timeout = dialect.get("timeout")
    listed, read_at = session.execute(
        select(func.count(), func.max(UpstreamService.last_seen_at)).where(
            UpstreamService.provider_id == provider.id, UpstreamService.gone.is_(False)
        )
    ).one()
    return ProviderRow(
        id=provider.id,
        name=provider.name,
        api_url=provider.api_url,
        method=provider.method,
        status=provider.status,
        paused_reason=provider.paused_reason,
        balance=None if provider.balance is None else from_units(provider.balance),
        currency=provider.currency,
        balance_checked_at=provider.balance_checked_at,
        request_id=bool(dialect.get("request_id")),
        lookup_url=str(dialect.get("lookup_url") or ""),
        timeout=float(timeout) if isinstance(timeout, int | float) else None,
        mapped=session.scalar(select(func.count()).where(ServiceSource.provider_id == provider.id))
        or 0,
        listed=listed,
        catalog_read_at=read_at,
        errors_24h=session.scalar(
            select(func.count()).where(
                ProviderOrderRecord.provider_id == provider.id,
                ProviderOrderRecord.outcome != ACCEPTED,
                ProviderOrderRecord.created_at >= utcnow() - ERROR_WINDOW,
            )
        )
        or 0,
        alerts=session.scalar(
            select(func.count()).where(Alert.subject == provider.name, Alert.resolved_at.is_(None))
        )
        or 0,
    )


# --- health --------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """An order sent to the provider, as forwarding recorded it."""

    at: datetime
    order_id: int | None
    action: str
    outcome: str  # accepted, unreachable, unknown, or the provider's refusal
    detail: str
    elapsed_ms: int | None  # None on calls recorded before latency was

    @property
    def failed(self) -> bool:
        return self.outcome != ACCEPTED


@dataclass(frozen=True)
class OpenAlert:
    at: datetime
    kind: str
    message: str


@dataclass(frozen=True)
class Health:
    calls: list[Call]  # the latest first
    alerts: list[OpenAlert]
    waiting_orders: int  # active orders waiting for a provider of its services

    @property
    def latency(self) -> Latency | None:
        """Of the calls shown that recorded their time; None when none did."""
        times = sorted(c.elapsed_ms for c in self.calls if c.elapsed_ms is not None)
        if not times:
            return None
        return Latency(len(times), times[(len(times) - 1) // 2], times[-1])


@dataclass(frozen=True)
class Latency:
    calls: int
    median_ms: int  # the lower median
    max_ms: int


def provider_health(db: Database, provider_id: int) -> Health:
    with db.read() as session:
        provider = session.get(Provider, provider_id)
        if provider is None:
            raise ProviderNotFound(f"no provider {provider_id}")
        calls = session.scalars(
            select(ProviderOrderRecord)
            .where(ProviderOrderRecord.provider_id == provider_id)
            .order_by(ProviderOrderRecord.id.desc())
            .limit(RECENT_CALLS)
        )
        alerts = session.scalars(
            select(Alert)
            .where(Alert.subject == provider.name, Alert.resolved_at.is_(None))
            .order_by(Alert.id.desc())
        )
        services = select(ServiceSource.service_id).where(ServiceSource.provider_id == provider_id)
        waiting = session.scalar(
            select(func.count()).where(
                Order.waiting_since.is_not(None),
                Order.status.in_(ACTIVE_STATUSES),
                Order.service_id.in_(services),
            )
        )
        return Health(
            [
                Call(c.created_at, c.order_id, c.action, c.outcome, c.detail, c.elapsed_ms)
                for c in calls
            ],
            [OpenAlert(a.created_at, a.kind, a.message) for a in alerts],
            waiting or 0,
        )


# --- the catalogue and our mapping ------------------------------------------------------


@dataclass(frozen=True)
class Mapping:
    """One of our services forwarded to this provider."""

    service_id: int
    service_name: str
    rate: Decimal
    enabled: bool
    upstream_id: str
    priority: int
    markup: str  # "30% + 0.10, 2 places", or "" (priced by hand)
    upstream_rate: Decimal | None  # as last read; None: not in the catalogue
    upstream_gone: bool


@dataclass(frozen=True)
class CatalogLine:
    upstream_id: str
    name: str
    type: str
    category: str
    rate: Decimal
    min_quantity: int
    max_quantity: int
    refill: bool
    cancel: bool
    gone: bool
    mapped_to: list[int] = field(default_factory=list)  # our service ids


def provider_mappings(db: Database, provider_id: int) -> list[Mapping]:
    query = (
        select(ServiceSource, Service, UpstreamService)
        .join(Service, Service.id == ServiceSource.service_id)
        .outerjoin(
            UpstreamService,
            (UpstreamService.provider_id == ServiceSource.provider_id)
            & (UpstreamService.upstream_id == ServiceSource.upstream_service_id),
        )
        .where(ServiceSource.provider_id == provider_id)
        .order_by(Service.id)
    )
    with db.read() as session:
        return [
            Mapping(
                service_id=service.id,
                service_name=service.name,
                rate=from_units(service.rate),
                enabled=service.enabled,
                upstream_id=source.upstream_service_id,
                priority=source.priority,
                markup=markup_text(source),
                upstream_rate=None if row is None else from_units(row.rate),
                upstream_gone=row is not None and row.gone,
            )
            for source, service, row in session.execute(query)
        ]


def markup_text(source: ServiceSource) -> str:
    if source.markup_percent is None:
        return ""
    fixed = f" + {from_units(source.markup_fixed)}" if source.markup_fixed else ""
    return f"{source.markup_percent}%{fixed}, {source.round_places}"


def upstream_catalog(
    db: Database, provider_id: int, *, category: str | None = None
) -> list[CatalogLine]:
    """The provider's services as last read (gone ones last), with ours mapped to each."""
    query = select(UpstreamService).where(UpstreamService.provider_id == provider_id)
    if category:
        query = query.where(UpstreamService.category == category)
    with db.read() as session:
        rows = session.scalars(query.limit(CATALOG_LIMIT * 2)).all()
        pairs = session.execute(
            select(ServiceSource.upstream_service_id, ServiceSource.service_id)
            .where(ServiceSource.provider_id == provider_id)
            .order_by(ServiceSource.service_id)
        ).all()
    mapped: dict[str, list[int]] = {}
    for upstream_id, service_id in pairs:
        mapped.setdefault(upstream_id, []).append(service_id)
    lines = [
        CatalogLine(
            r.upstream_id, r.name, r.type, r.category, from_units(r.rate),
            r.min_quantity, r.max_quantity, r.refill, r.cancel, r.gone,
            mapped.get(r.upstream_id, []),
        )
        for r in rows
    ]  # fmt: skip
    return sorted(lines, key=lambda line: (line.gone, _id_key(line.upstream_id)))[:CATALOG_LIMIT]


def _id_key(upstream_id: str) -> tuple[int, int, str]:
    return (0, int(upstream_id), "") if upstream_id.isdigit() else (1, 0, upstream_id)


@dataclass(frozen=True)
class ImportedLine:
    """An upstream service an import skips as imported already, with our service."""

    upstream_id: str
    mapping: Mapping
    new_rate: Decimal | None  # what the price sync would set now; None: nothing


def imported_lines(db: Database, provider_id: int, already: dict[str, int]) -> list[ImportedLine]:
    """The import preview's "imported already", each with the price sync's
    pending change (an import never reprices: the price sync does)."""
    mappings = {m.service_id: m for m in provider_mappings(db, provider_id)}
    with db.read() as session:
        name = session.scalar(select(Provider.name).where(Provider.id == provider_id))
    pending = {} if name is None else {
        int(c.id): c.new_rate for c in review_prices(db, provider_name=name).changed
    }  # fmt: skip
    return [
        ImportedLine(upstream_id, mappings[service_id], pending.get(service_id))
        for upstream_id, service_id in sorted(already.items(), key=lambda i: _id_key(i[0]))
        if service_id in mappings
    ]


def upstream_categories(db: Database, provider_id: int) -> list[str]:
    with db.read() as session:
        return list(
            session.scalars(
                select(UpstreamService.category)
                .where(UpstreamService.provider_id == provider_id, UpstreamService.gone.is_(False))
                .distinct()
                .order_by(UpstreamService.category)
            )
        )


# --- the price-sync report -------------------------------------------------------------


@dataclass(frozen=True)
class PriceLine:
    service_id: int
    name: str
    enabled: bool
    provider: str
    upstream_id: str
    upstream_rate: Decimal | None  # as last read, the provider's currency
    currency: str | None
    rate: Decimal  # ours now
    new_rate: Decimal | None  # what applying sets (None: disabled, or priced by hand)
    markup: str


@dataclass(frozen=True)
class PriceReport:
    changed: list[PriceLine]
    disabled: list[PriceLine]  # no upstream listed any more: applying disables them
    manual: list[PriceLine]  # priced by hand: shown with their cost, never changed
    unchanged: int
    errors: dict[str, str]


def price_report(db: Database, report: PriceSyncReport) -> PriceReport:
    """The lines behind `review_prices`' report, each with its first mapping."""
    new_rates = {int(change.id): change.new_rate for change in report.changed}
    ids = set(new_rates) | set(report.disabled) | set(report.manual)
    lines: dict[int, PriceLine] = {}
    query = (
        select(ServiceSource, Service, Provider, UpstreamService)
        .join(Service, Service.id == ServiceSource.service_id)
        .join(Provider, Provider.id == ServiceSource.provider_id)
        .outerjoin(
            UpstreamService,
            (UpstreamService.provider_id == ServiceSource.provider_id)
            & (UpstreamService.upstream_id == ServiceSource.upstream_service_id),
        )
        .where(ServiceSource.service_id.in_(ids))
        .order_by(ServiceSource.service_id, ServiceSource.priority, ServiceSource.id)
    )
    with db.read() as session:
        for source, service, provider, row in session.execute(query):
            if service.id in lines:
                continue
            lines[service.id] = PriceLine(
                service.id, service.name, service.enabled, provider.name,
                source.upstream_service_id, None if row is None else from_units(row.rate),
                provider.currency, from_units(service.rate), new_rates.get(service.id),
                markup_text(source),
            )  # fmt: skip
    return PriceReport(
        changed=[lines[int(c.id)] for c in report.changed if int(c.id) in lines],
        disabled=[lines[i] for i in report.disabled if i in lines],
        manual=[lines[i] for i in report.manual if i in lines],
        unchanged=len(report.unchanged),
        errors=dict(report.errors),
    )
