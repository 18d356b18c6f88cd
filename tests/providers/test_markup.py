"""The markup arithmetic alone: exact, and rounded up (never below cost)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smmpanel.providers.catalog_sync_upstream import Markup, upstream_units
from smmpanel.providers.errors import InvalidProvider


@pytest.mark.parametrize(
    ("cost", "percent", "fixed", "places", "expected"),
    [
        ("0.90", "25", "0", 2, "1.13"),  # 1.125 rounds up, not half-even to 1.12
        ("0.25", "25", "0", 2, "0.32"),  # 0.3125
        ("0.0123", "25", "0", 2, "0.02"),  # 0.015375
        ("0.0123", "25", "0", 5, "0.01538"),  # 0.015375
        ("3.00", "25", "0", 2, "3.75"),  # exact: no rounding
        ("0.90", "25", "0", 0, "2"),  # 1.125 -> 2 whole units
        ("0.90", "0", "0.1", 5, "1.00"),
        ("0.0123", "10", "0.05", 3, "0.064"),  # 0.01353 + 0.05 = 0.06353
        ("0.90", "12.5%", "0", 4, "1.0125"),
        ("1.20", "0", "0", 2, "1.20"),
    ],
)
def test_apply_rounds_up(cost: str, percent: str, fixed: str, places: int, expected: str) -> None:
    markup = Markup.parse(percent, fixed, places)
    rate = markup.apply(Decimal(cost))
    assert rate == Decimal(expected)
    assert rate >= Decimal(cost) * (1 + Decimal(percent.rstrip("%")) / 100) + Decimal(fixed)
    assert rate.as_tuple().exponent >= -places  # type: ignore[operator]


def test_rate_units_converts_from_the_provider_currency() -> None:
    # 0.90 EUR at 0.5 EUR per USD costs 1.80 USD; +25% = 2.25 USD.
    assert Markup.parse("25", "0", 2).rate_units(90_000, Decimal("0.5")) == 225_000
    # 1 EUR at 3 EUR per USD: 0.3333... USD, rounded up to 0.34.
    assert Markup.parse("0", "0", 2).rate_units(100_000, Decimal("3")) == 34_000


def test_upstream_rates_finer_than_a_unit_round_up() -> None:
    assert upstream_units(Decimal("0.000014")) == 2
    assert upstream_units(Decimal("0.90")) == 90_000
    assert upstream_units(Decimal("0")) == 0
    with pytest.raises(ValueError):
        upstream_units(Decimal("-1"))


@pytest.mark.parametrize(
    ("percent", "fixed", "places"),
    [
        ("-5", "0", 2),
        ("5", "-0.1", 2),
        ("abc", "0", 2),
        ("5", "0.000001", 2),
        ("5", "0", 6),
        ("5", "0", -1),
        ("NaN", "0", 2),
    ],
)
def test_invalid_markups_are_refused(percent: str, fixed: str, places: int) -> None:
    with pytest.raises(InvalidProvider):
        Markup.parse(percent, fixed, places)
