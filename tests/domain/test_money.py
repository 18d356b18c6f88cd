"""smmpanel.money: exact amounts, rounding half up, the API's formats."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smmpanel.money import (
    MoneyError,
    charge_units,
    convert_units,
    div_half_up,
    format_rate,
    format_units,
    from_units,
    parse_decimal,
    round5,
    to_units,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.000005", "0.00001"),
        ("0.0000049999", "0.00000"),
        ("0.000015", "0.00002"),  # half up, not half even (which gives 0.00002 too)
        ("0.000025", "0.00003"),  # half even would give 0.00002
        ("1.234565", "1.23457"),
        ("-0.000005", "-0.00001"),  # a tie rounds away from zero
        ("2", "2.00000"),
    ],
)
def test_round5_half_up(value: str, expected: str) -> None:
    assert str(round5(Decimal(value))) == expected


def test_to_and_from_units() -> None:
    assert to_units("0.90") == 90_000
    assert to_units("100.84292") == 10_084_292
    assert to_units(Decimal("0.000025")) == 3
    assert to_units(" 12 ") == 1_200_000
    assert to_units(7) == 700_000
    assert from_units(27_819) == Decimal("0.27819")
    assert from_units(0) == Decimal("0.00000")


@pytest.mark.parametrize("bad", [0.1, 1.0, True, None, "abc", "NaN", "Infinity", "-inf", [1]])
def test_parse_decimal_refuses_inexact_input(bad: object) -> None:
    with pytest.raises(MoneyError):
        parse_decimal(bad)


@pytest.mark.parametrize(
    ("units", "text"),
    [(27_819, "0.27819"), (0, "0.00000"), (10_084_292, "100.84292"), (1, "0.00001")],
)
def test_format_units(units: int, text: str) -> None:
    assert format_units(units) == text


@given(units=st.integers(min_value=-(10**20), max_value=10**20))
def test_format_units_in_integers_is_the_decimal_text(units: int) -> None:
    """format_units works in integers (it formats every charge of a `status`
    call): exactly the text of the Decimal amount, negatives included."""
    assert format_units(units) == f"{from_units(units):.5f}"


@pytest.mark.parametrize(
    ("units", "text"),
    [
        (90_000, "0.90"),  # the reference's "0.90"
        (800_000, "8"),  # the reference's "8"
        (90, "0.0009"),
        (150_000, "1.50"),
        (123_456, "1.23456"),
        (1_000_000, "10"),
        (1, "0.00001"),
        (0, "0"),
        (10_000_000_000, "100000"),
    ],
)
def test_format_rate(units: int, text: str) -> None:
    assert format_rate(units) == text


def test_div_half_up() -> None:
    assert div_half_up(5, 10) == 1
    assert div_half_up(4, 10) == 0
    assert div_half_up(15, 10) == 2
    assert div_half_up(25, 10) == 3
    assert div_half_up(0, 7) == 0
    for numerator, denominator in ((-1, 10), (1, 0), (1, -5)):
        with pytest.raises(ValueError):
            div_half_up(numerator, denominator)


def test_charge_units() -> None:
    assert charge_units(90_000, 1000) == 90_000  # 0.90 per 1000 x 1000
    assert charge_units(90_000, 100) == 9_000
    assert charge_units(12_345, 100) == 1_235  # 1234.5 -> up
    assert charge_units(1, 499) == 0
    assert charge_units(1, 500) == 1
    assert charge_units(90, 1) == 0  # 0.0009 per 1000 for one unit: 0.0000009 -> 0
    assert charge_units(0, 10_000) == 0


def test_convert_units() -> None:
    assert convert_units(90_000, Decimal("0.9")) == 81_000
    assert convert_units(12_345, Decimal("0.9")) == 11_111  # 0.111105 -> 0.11111
    assert convert_units(100, Decimal("1")) == 100
    assert convert_units(1, Decimal("0.5")) == 1  # 0.000005 -> 0.00001
    assert convert_units(1, Decimal("0.4")) == 0


def _exact_half_up(numerator: Decimal) -> int:
    return int(numerator.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@given(
    rate=st.integers(min_value=0, max_value=10**13),
    quantity=st.integers(min_value=0, max_value=10**10),
)
def test_charge_is_exact_decimal_arithmetic(rate: int, quantity: int) -> None:
    """rate x quantity / 1000, half up, exactly - far past where a float (53 bits)
    would already have lost units."""
    with localcontext() as ctx:
        ctx.prec = 60
        expected = _exact_half_up(Decimal(rate) * quantity / 1000)
    assert charge_units(rate, quantity) == expected
    # The same through the text the API prints: rate "x.xxxxx" per 1000.
    with localcontext() as ctx:
        ctx.prec = 60
        money = Decimal(format_units(rate)) * quantity / 1000
        assert to_units(round5(money)) == expected


@given(
    units=st.integers(min_value=0, max_value=10**15),
    rate=st.decimals(
        min_value=Decimal("0.00001"), max_value=Decimal("10000"), places=6, allow_nan=False
    ),
)
def test_convert_is_exact_decimal_arithmetic(units: int, rate: Decimal) -> None:
    with localcontext() as ctx:
        ctx.prec = 60
        expected = _exact_half_up(Decimal(units) * rate)
    assert convert_units(units, rate) == expected


@given(units=st.integers(min_value=0, max_value=10**17))
def test_formats_round_trip(units: int) -> None:
    assert to_units(format_units(units)) == units
    assert to_units(format_rate(units)) == units
    text = format_units(units)
    assert len(text.split(".")[1]) == 5
