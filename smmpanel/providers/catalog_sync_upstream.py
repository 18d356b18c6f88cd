"""Reading an upstream panel's balance and catalog, and the markup arithmetic.

Provider calls happen outside any transaction; what they answered is then
stored in one.  Every SDK failure becomes `ProviderUnavailable` with a message
that never holds the provider's key.

Markup: local rate = upstream rate (in the base currency) x (1 + percent/100)
+ fixed, rounded *up* to `round_places` decimals (ROUND_CEILING), so a rounded
price is never below the marked-up cost: 0.90 x 1.25 = 1.125 sells at 1.13.
Upstream rates are stored in minor units rounded up as well, so a rate finer
than 0.00001 is never under-counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from smmpanel.accounts.models import Currency
from smmpanel.catalog.errors import UnknownServiceType
from smmpanel.catalog.models import ServiceSource
from smmpanel.catalog.types import DEFAULT, service_type
from smmpanel.db import Database
from smmpanel.money import PLACES, SCALE, MoneyError, from_units, parse_decimal, to_units
from smmpanel.panel.settings import get_setting
from smmpanel.providers.errors import InvalidProvider, ProviderNotFound, ProviderUnavailable
from smmpanel.providers.gateway import ProviderAccess, open_upstream
from smmpanel.providers.models import Provider, UpstreamService
from smmpanel.providers.service import provider_by_name
from smmpanel.providers.upstream import CatalogEntry, Upstream, UpstreamError
from smmpanel.timeutil import utcnow

T = TypeVar("T")


@dataclass(frozen=True)
class RateChange:
    """A rate that moved: an upstream id (catalog diff) or a local service id."""

    id: str | int
    old_rate: Decimal
    new_rate: Decimal


@dataclass
class CatalogDiff:
    provider: str
    listed: int = 0
    appeared: list[str] = field(default_factory=list)  # never seen before
    returned: list[str] = field(default_factory=list)  # listed again after being gone
    disappeared: list[str] = field(default_factory=list)  # marked gone now
    rate_changed: list[RateChange] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # entries not usable, why


# --- calling the provider -----------------------------------------------------------


def provider_access(db: Database, provider_name: str) -> ProviderAccess:
    with db.read() as session:
        return ProviderAccess.of(provider_by_name(session, provider_name))


def _call(access: ProviderAccess, what: str, call: Callable[[Upstream], T]) -> T:
    """Run one upstream call; every failure becomes a domain error without the key."""
    try:
        with open_upstream(access) as upstream:
            return call(upstream)
    except UpstreamError as exc:
        detail = _redact(str(exc) or type(exc).__name__, access.api_key)
        raise ProviderUnavailable(
            f"provider {access.name!r} ({_display_url(access.api_url)}): {what} failed: {detail}"
        ) from None
    except ValueError as exc:  # the client refused the configuration
        detail = _redact(str(exc), access.api_key)
        raise InvalidProvider(f"provider {access.name!r}: {detail}") from None


def _redact(text: str, key: str) -> str:
    for secret in {key, key.strip(), quote(key, safe=""), quote_plus(key)}:
        if secret:
            text = text.replace(secret, "***")
    return text


def _display_url(url: str) -> str:
    """The address without credentials or query string (either may hold a secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def fetch_provider_balance(db: Database, *, provider_name: str) -> tuple[Decimal, str | None]:
    """Ask the provider for its balance; store it (minor units) and its currency."""
    access = provider_access(db, provider_name)
    answer = _call(access, "balance", lambda upstream: upstream.balance())
    currency = (answer.currency or "").strip().upper()[:8] or None
    with db.write() as session:
        provider = session.get(Provider, access.id)
        if provider is None:
            raise ProviderNotFound(f"no provider {provider_name!r}")
        provider.balance = to_units(answer.balance)
        provider.currency = currency
        provider.balance_checked_at = utcnow()
    return answer.balance, currency


def ensure_currency(db: Database, access: ProviderAccess) -> str | None:
    """The provider's currency, asking for its balance once when it is not known."""
    with db.read() as session:
        provider = session.get(Provider, access.id)
        if provider is not None and provider.balance_checked_at is not None:
            return provider.currency
    return fetch_provider_balance(db, provider_name=access.name)[1]


# --- the upstream catalog ------------------------------------------------------------


def refresh_upstream_catalog(db: Database, *, provider_name: str) -> CatalogDiff:
    """Read the provider's `services` and store them; unlisted ones become gone."""
    access = provider_access(db, provider_name)
    entries = _call(access, "services", lambda upstream: upstream.services())
    return _store_catalog(db, access, entries)


def _store_catalog(
    db: Database, access: ProviderAccess, entries: list[CatalogEntry]
) -> CatalogDiff:
    listed = {str(entry.service): entry for entry in entries}  # a repeated id: the last wins
    diff = CatalogDiff(access.name, listed=len(listed))
    now = utcnow()
    with db.write() as session:
        rows = {
            row.upstream_id: row
            for row in session.scalars(
                select(UpstreamService).where(UpstreamService.provider_id == access.id)
            )
        }
        if not listed and any(not row.gone for row in rows.values()):
            # A broken panel answering [] must not disable a whole catalog.
            raise ProviderUnavailable(
                f"provider {access.name!r} listed no services; nothing was marked gone"
            )
        seen: set[str] = set()
        for upstream_id, entry in sorted(listed.items(), key=lambda item: id_key(item[0])):
            try:
                units = upstream_units(entry.rate)
            except ValueError as exc:
                diff.skipped[upstream_id] = str(exc)
                continue
            row = rows.get(upstream_id)
            if row is None:
                row = UpstreamService(provider_id=access.id, upstream_id=upstream_id, rate=units)
                session.add(row)
                diff.appeared.append(upstream_id)
            else:
                if row.gone:
                    diff.returned.append(upstream_id)
                if row.rate != units:
                    old, new = from_units(row.rate), from_units(units)
                    diff.rate_changed.append(RateChange(upstream_id, old, new))
            _fill(row, entry, units)
            row.gone, row.last_seen_at = False, now
            seen.add(upstream_id)
        for upstream_id in sorted(set(rows) - seen, key=id_key):
            if not rows[upstream_id].gone:
                rows[upstream_id].gone = True
                diff.disappeared.append(upstream_id)
    return diff


def _fill(row: UpstreamService, entry: CatalogEntry, units: int) -> None:
    row.name = (entry.name or f"Service {entry.service}")[:255]
    row.type = local_type(str(entry.type))
    row.category = (entry.category or "Other")[:255]
    row.rate = units
    row.min_quantity, row.max_quantity = entry.min, entry.max
    row.dripfeed, row.refill, row.cancel = entry.dripfeed, entry.refill, entry.cancel
    row.raw = _jsonable(entry.raw)


def local_type(name: str) -> str:
    """The canonical type name, or Default for a type this panel does not know."""
    try:
        return service_type(name).name
    except UnknownServiceType:
        return DEFAULT


def _jsonable(value: Any) -> Any:
    """The upstream entry as stored JSON (the SDK reads numbers as Decimal)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    return value


def id_key(upstream_id: str) -> tuple[int, int, str]:
    return (0, int(upstream_id), "") if upstream_id.isdigit() else (1, 0, upstream_id)


# --- markup --------------------------------------------------------------------------

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Markup:
    percent: Decimal
    fixed: Decimal  # in the panel's base currency
    round_places: int

    @classmethod
    def parse(
        cls,
        percent: Decimal | str | int,
        fixed: Decimal | str | int = "0",
        round_places: int = 2,
    ) -> Markup:
        """Validate what the owner gave: "25", "25%", Decimal("12.5"); fixed "0.1"."""
        pct = _decimal(percent, "markup percent")
        fix = _decimal(fixed, "fixed markup")
        if pct < 0 or fix < 0:
            raise InvalidProvider("a markup must not be negative: it would sell below cost")
        if fix != from_units(to_units(fix)):
            raise InvalidProvider(f"the fixed markup has more than {PLACES} decimals: {fix}")
        if isinstance(round_places, bool) or not isinstance(round_places, int):
            raise InvalidProvider("round places is a whole number from 0 to 5")
        if not 0 <= round_places <= PLACES:
            raise InvalidProvider(f"round places is 0 to {PLACES}, not {round_places}")
        return cls(pct, fix, round_places)

    @classmethod
    def of_source(cls, source: ServiceSource) -> Markup | None:
        """The markup stored on a mapping; None when the owner prices it by hand."""
        if source.markup_percent is None:
            return None
        try:
            percent = parse_decimal(source.markup_percent.strip().rstrip("%"))
        except MoneyError:
            return None  # unreadable: leave the price alone rather than guess
        places = min(max(int(source.round_places), 0), PLACES)
        return cls(percent, from_units(source.markup_fixed or 0), places)

    def apply(self, cost: Decimal) -> Decimal:
        """The selling rate for a cost (both per 1000, base currency)."""
        raw = cost * (1 + self.percent / HUNDRED) + self.fixed
        rate = raw.quantize(Decimal(1).scaleb(-self.round_places), rounding=ROUND_CEILING)
        return max(rate, Decimal(0))

    def rate_units(self, upstream_units: int, fx_rate: Decimal | None = None) -> int:
        """The selling rate in base-currency minor units for an upstream rate in the
        provider's minor units; `fx_rate` is provider-currency units per base unit."""
        return to_units(self.apply(cost_in_base(upstream_units, fx_rate)))

    def stored(self) -> dict[str, object]:
        """The ServiceSource fields that keep this markup."""
        return {
            "markup_percent": str(self.percent),
            "markup_fixed": to_units(self.fixed),
            "round_places": self.round_places,
        }


def cost_in_base(upstream_units: int, fx_rate: Decimal | None) -> Decimal:
    cost = Decimal(upstream_units) / SCALE
    if fx_rate is None or fx_rate == 1:
        return cost
    return cost / fx_rate


def upstream_units(rate: Decimal) -> int:
    """An upstream rate as minor units, rounded up (a cost is never under-counted)."""
    if not rate.is_finite() or rate < 0:
        raise ValueError(f"not a usable rate: {rate}")
    return int((rate * SCALE).to_integral_value(rounding=ROUND_CEILING))


def exchange_rate(session: Session, currency: str | None) -> Decimal | None:
    """Units of `currency` per base unit: 1 for the base currency (or an unknown
    currency, which panels that omit it mean as their only one), None when the
    panel has no exchange rate for it."""
    code = (currency or "").strip().upper()
    if not code or code == get_setting(session, "base_currency"):
        return Decimal(1)
    row = session.get(Currency, code)
    if row is None:
        return None
    try:
        value = parse_decimal(row.rate)
    except MoneyError:
        return None
    return value if value > 0 else None


def _decimal(value: Decimal | str | int, what: str) -> Decimal:
    text = value.strip().rstrip("%").strip() if isinstance(value, str) else value
    try:
        return parse_decimal(text)
    except MoneyError:
        raise InvalidProvider(f"{what}: not a number: {value!r}") from None
