"""Markup arithmetic for imported services, exact (Decimal and integer units).

    local rate = upstream rate (in the base currency) x (1 + percent/100) + fixed,
    rounded *up* to `round_places` decimals

Rounding up (ROUND_CEILING) means a rounded price is never below the marked-up
cost: 0.90 x 1.25 = 1.125 sells at 1.13.  Upstream rates are stored in minor
units rounded up as well, so a rate finer than 0.00001 is never under-counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from sqlalchemy.orm import Session

from smmpanel.accounts.models import Currency
from smmpanel.accounts.panel import get_setting
from smmpanel.money import PLACES, SCALE, MoneyError, from_units, parse_decimal, to_units
from smmpanel.providers.errors import InvalidProvider
from smmpanel.providers.models import ServiceSource

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
