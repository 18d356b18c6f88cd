"""What an import will create, computed before anything is written: the admin
shows it as a preview (a dry run) and the apply checks it is still the same."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from smmpanel.money import from_units
from smmpanel.providers.catalog_sync_upstream import Markup
from smmpanel.providers.errors import InvalidProvider
from smmpanel.providers.models import UpstreamService


class ImportPlanChanged(InvalidProvider):
    """The catalog or the markup moved between the preview and the apply."""


@dataclass(frozen=True)
class PlannedImport:
    """A local service an import creates: from which upstream entry, at what price."""

    upstream_id: str
    name: str
    category: str  # the local category it goes into
    type: str
    upstream_rate: Decimal  # per 1000, the provider's currency
    rate: Decimal  # per 1000, base currency, the markup applied
    min_quantity: int
    max_quantity: int


def plan_entry(
    row: UpstreamService, markup: Markup, fx: Decimal, into_category: str | None
) -> PlannedImport:
    return PlannedImport(
        upstream_id=row.upstream_id,
        name=row.name,
        category=into_category or row.category,
        type=row.type,
        upstream_rate=from_units(row.rate),
        rate=from_units(markup.rate_units(row.rate, fx)),
        min_quantity=row.min_quantity,
        max_quantity=row.max_quantity,
    )


def plan_digest(planned: Iterable[PlannedImport], markup: Markup) -> str:
    """A short fingerprint of a plan: equal plans, equal digests."""
    items = [
        [p.upstream_id, p.name, p.category, p.type, str(p.upstream_rate), str(p.rate)]
        for p in planned
    ]
    text = json.dumps(
        [str(markup.percent), str(markup.fixed), markup.round_places, items], ensure_ascii=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]
