"""Exact money: ``Decimal`` in Python, integer minor units in the database.

Every amount (balances, charges, rates per 1000) is stored as an integer count
of 0.00001 of its currency, the precision the API prints.  Nothing on a money
path ever touches ``float``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

PLACES = 5
SCALE = 10**PLACES
QUANTUM = Decimal(1).scaleb(-PLACES)  # Decimal("0.00001")


class MoneyError(ValueError):
    """A value that is not an exact decimal amount."""


def parse_decimal(value: object) -> Decimal:
    """Parse user input (str/int/Decimal) into a finite Decimal; floats are refused."""
    if isinstance(value, (bool, float)):
        raise MoneyError(f"not an exact decimal: {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise MoneyError(f"not a decimal number: {value!r}") from None
    else:
        raise MoneyError(f"not a decimal number: {value!r}")
    if not result.is_finite():
        raise MoneyError(f"not a finite number: {value!r}")
    return result


def round5(value: Decimal) -> Decimal:
    """Round to 5 places, half up (away from zero on a tie)."""
    return value.quantize(QUANTUM, rounding=ROUND_HALF_UP)


def to_units(value: Decimal | str | int) -> int:
    """Decimal amount -> integer minor units, rounding half up to 5 places."""
    return int(round5(parse_decimal(value)) * SCALE)


def from_units(units: int) -> Decimal:
    return (Decimal(units) / SCALE).quantize(QUANTUM)


def format_units(units: int) -> str:
    """Integer minor units -> the API's money string with exactly 5 places."""
    return f"{from_units(units):.5f}"


def format_rate(units: int) -> str:
    """A rate for the services list: "0.90", "8", "0.0009" (trailing zeros trimmed,
    at least two decimals when there is a fraction) - the reference's own style."""
    text = f"{from_units(units):f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    if not fraction:
        return whole
    return f"{whole}.{fraction.ljust(2, '0')}"


def div_half_up(numerator: int, denominator: int) -> int:
    """Integer division rounding half up, for non-negative operands."""
    if numerator < 0 or denominator <= 0:
        raise ValueError("div_half_up takes a non-negative numerator and a positive denominator")
    return (2 * numerator + denominator) // (2 * denominator)


def charge_units(rate_units: int, quantity: int) -> int:
    """Charge = rate per 1000 x quantity / 1000, rounded to 5 places half up."""
    return div_half_up(rate_units * quantity, 1000)


def convert_units(units: int, fx_rate: Decimal) -> int:
    """Convert base-currency units with an exchange rate (target units per base unit)."""
    return to_units(from_units(units) * fx_rate)
