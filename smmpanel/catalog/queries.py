"""Reads over the catalog: the `services` list, exports, lookups."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from smmpanel.catalog.models import (
    AccountServiceRate,
    Category,
    CategoryTranslation,
    Service,
    ServiceTranslation,
)
from smmpanel.catalog.pricing import account_rate
from smmpanel.db import Database


@dataclass(frozen=True)
class ServiceView:
    id: int
    name: str
    type: str
    category: str
    rate: int  # per 1000, minor units of the viewer's currency
    min_quantity: int
    max_quantity: int
    dripfeed: bool
    refill: bool
    refill_days: int | None
    cancel: bool
    link_required: bool
    enabled: bool
    description: str
    name_lang: dict[str, str] = field(default_factory=dict)
    category_lang: dict[str, str] = field(default_factory=dict)
    description_lang: dict[str, str] = field(default_factory=dict)


def list_services(
    db: Database,
    *,
    account_id: int | None = None,
    fx_rate: Decimal = Decimal(1),
    enabled_only: bool = True,
    with_translations: bool = False,
) -> list[ServiceView]:
    """Services in catalog order, priced for `account_id` (custom rates, currency)."""
    with db.read() as session:
        return services_in(
            session,
            account_id=account_id,
            fx_rate=fx_rate,
            enabled_only=enabled_only,
            with_translations=with_translations,
        )


def services_in(
    session: Session,
    *,
    account_id: int | None = None,
    fx_rate: Decimal = Decimal(1),
    enabled_only: bool = True,
    with_translations: bool = False,
) -> list[ServiceView]:
    """`list_services` in the caller's transaction (the API reads the catalog's
    version first, in the same one, to cache the list under it)."""
    query = (
        select(Service, Category.name)
        .join(Category, Category.id == Service.category_id)
        .order_by(Category.position, Category.id, Service.position, Service.id)
    )
    if enabled_only:
        query = query.where(Service.enabled.is_(True))
    rows = session.execute(query).all()
    custom = _custom_rates(session, account_id)
    names, descriptions, categories = _translations(session) if with_translations else ({}, {}, {})
    return [
        ServiceView(
            id=s.id,
            name=s.name,
            type=s.type,
            category=category,
            rate=account_rate(s.rate, custom.get(s.id), fx_rate),
            min_quantity=s.min_quantity,
            max_quantity=s.max_quantity,
            dripfeed=s.dripfeed,
            refill=s.refill,
            refill_days=s.refill_days,
            cancel=s.cancel,
            link_required=s.link_required,
            enabled=s.enabled,
            description=s.description,
            name_lang=names.get(s.id, {}),
            category_lang=categories.get(s.category_id, {}),
            description_lang=descriptions.get(s.id, {}),
        )
        for s, category in rows
    ]


def _custom_rates(session: Session, account_id: int | None) -> dict[int, int]:
    if account_id is None:
        return {}
    rows = session.execute(
        select(AccountServiceRate.service_id, AccountServiceRate.rate).where(
            AccountServiceRate.account_id == account_id
        )
    )
    return {service_id: rate for service_id, rate in rows}


def _translations(
    session: Session,
) -> tuple[dict[int, dict[str, str]], dict[int, dict[str, str]], dict[int, dict[str, str]]]:
    names: dict[int, dict[str, str]] = defaultdict(dict)
    descriptions: dict[int, dict[str, str]] = defaultdict(dict)
    for t in session.scalars(select(ServiceTranslation).order_by(ServiceTranslation.lang)):
        if t.name is not None:
            names[t.service_id][t.lang] = t.name
        if t.description is not None:
            descriptions[t.service_id][t.lang] = t.description
    categories: dict[int, dict[str, str]] = defaultdict(dict)
    for c in session.scalars(select(CategoryTranslation).order_by(CategoryTranslation.lang)):
        categories[c.category_id][c.lang] = c.name
    return names, descriptions, categories
