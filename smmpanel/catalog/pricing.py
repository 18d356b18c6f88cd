"""What a service costs a given account, in the account's currency."""

from __future__ import annotations

from decimal import Decimal

from smmpanel.money import convert_units


def account_rate(base_rate: int, custom_rate: int | None, fx_rate: Decimal) -> int:
    """The price per 1000 an account sees and pays: its custom rate when it has
    one, else the service's, converted from the base currency and rounded to 5
    places (the charge is computed from this rounded rate, so what `services`
    shows is exactly what `add` charges)."""
    rate = base_rate if custom_rate is None else custom_rate
    if fx_rate == 1:
        return rate
    return convert_units(rate, fx_rate)
