"""Exact money: ``Decimal`` in Python, integer minor units in the database.

Every amount (balances, charges, rates per 1000) is stored as an integer count
of 0.00001 of its currency, the precision the API prints.  Nothing on a money
path ever touches ``float``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from smmpanel.errors import InvalidValue

PLACES = 5
SCALE = 10**PLACES
QUANTUM = Decimal(1).scaleb(-PLACES)  # Decimal("0.00001")

# Limits (docs/operations.md, "Limits").  Amounts live in 64-bit integer columns
# of minor units (at most 9.2 x 10^18, i.e. 92 trillion); these bounds keep every
# stored amount and every charge far below that, so no arithmetic of the panel
# can overflow a column.
# One top-up or deduction (`users fund`).
MAX_AMOUNT = Decimal(10) ** 10
# A balance: a top-up that would go past it is refused; no charge can exceed it.
MAX_BALANCE = Decimal(10) ** 12
MAX_BALANCE_UNITS = int(MAX_BALANCE) * SCALE
# A price per 1000 (a package's price), of a service or an account's own rate.
MAX_RATE = Decimal(10) ** 6
# Units of a currency per unit of the base currency, with at most 6 decimals.
MIN_EXCHANGE_RATE = Decimal("0.000001")
MAX_EXCHANGE_RATE = Decimal(10) ** 6
EXCHANGE_RATE_PLACES = 6


class MoneyError(InvalidValue, ValueError):
    """A value that is not an exact decimal amount (or not one in its range)."""


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


def parse_exact(
    value: object, *, what: str, low: Decimal, high: Decimal, places: int = PLACES
) -> Decimal:
    """User input as an exact Decimal from `low` to `high` with at most `places`
    decimals; anything else is a MoneyError naming `what`.  Nothing is rounded:
    0.123456 is refused, not read as 0.12346."""
    try:
        number = parse_decimal(value)
    except MoneyError as exc:
        raise MoneyError(f"{what}: {exc}") from None
    # The range first: it also keeps the quantize below within the decimal context.
    if not low <= number <= high:
        span = f"from {plain_decimal(low)} to {plain_decimal(high)}"
        raise MoneyError(f"{what} must be {span}, not {value!r}")
    if number != number.quantize(Decimal(1).scaleb(-places)):
        raise MoneyError(f"{what} takes at most {places} decimal places, not {value!r}")
    return number


def parse_amount(value: object, *, what: str = "the amount") -> Decimal:
    """A sum of money to add (or, negative, deduct) in one operation."""
    return parse_exact(value, what=what, low=-MAX_AMOUNT, high=MAX_AMOUNT)


def parse_rate(value: object, *, what: str = "the rate") -> Decimal:
    """A price per 1000 (or a package's price): 0 to MAX_RATE, 5 places."""
    return parse_exact(value, what=what, low=Decimal(0), high=MAX_RATE)


def parse_exchange_rate(value: object) -> Decimal:
    """Units of a currency per base unit: MIN_EXCHANGE_RATE to MAX_EXCHANGE_RATE."""
    return parse_exact(
        value,
        what="an exchange rate",
        low=MIN_EXCHANGE_RATE,
        high=MAX_EXCHANGE_RATE,
        places=EXCHANGE_RATE_PLACES,
    )


def plain_decimal(number: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 1000, 0.000001, 0.92."""
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def round5(value: Decimal) -> Decimal:
    """Round to 5 places, half up (away from zero on a tie)."""
    return value.quantize(QUANTUM, rounding=ROUND_HALF_UP)


def to_units(value: Decimal | str | int) -> int:
    """Decimal amount -> integer minor units, rounding half up to 5 places."""
    return int(round5(parse_decimal(value)) * SCALE)


def from_units(units: int) -> Decimal:
    return (Decimal(units) / SCALE).quantize(QUANTUM)


def format_units(units: int) -> str:
    """Integer minor units -> the API's money string with exactly 5 places
    (in integers: a `status` of 100 orders formats 100 charges)."""
    whole, part = divmod(abs(units), SCALE)
    return f"{'-' if units < 0 else ''}{whole}.{part:0{PLACES}d}"


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
