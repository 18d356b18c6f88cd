"""Converting a deposit into the account's currency, exactly.

The currencies table holds each currency's units per unit of the base
currency (the base itself is 1).  A deposit of A in currency G credits
A x rate(account) / rate(G), computed in Decimal and rounded once, half up,
to the 5 places of money; no float anywhere.  Payments keep their own small
look-up (the providers context has one too, and contexts do not share it)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

from sqlalchemy.orm import Session

from smmpanel.accounts.models import Currency
from smmpanel.money import QUANTUM, SCALE
from smmpanel.panel.settings import get_setting
from smmpanel.payments.errors import DepositRefused


def currency_rate(session: Session, code: str) -> Decimal | None:
    """Units of `code` per base unit; None when the panel has no valid rate."""
    if code == get_setting(session, "base_currency"):
        return Decimal(1)
    row = session.get(Currency, code)
    if row is None:
        return None
    try:
        rate = Decimal(row.rate.strip())
    except InvalidOperation:
        return None
    return rate if rate.is_finite() and rate > 0 else None


def convert_amount(session: Session, amount: Decimal, source: str, target: str) -> int:
    """`amount` of `source` in minor units of `target`; DepositRefused when a rate is missing."""
    if source == target:
        return int(amount * SCALE)
    rates = {code: currency_rate(session, code) for code in (source, target)}
    for code, rate in rates.items():
        if rate is None:
            raise DepositRefused(f"the panel has no exchange rate for {code}")
    source_rate, target_rate = rates[source], rates[target]
    assert source_rate is not None and target_rate is not None
    with localcontext() as context:
        # Enough digits for 10^10 x a 6-decimal rate / another: the one rounding is ours.
        context.prec = 60
        converted = (amount * target_rate / source_rate).quantize(QUANTUM, rounding=ROUND_HALF_UP)
    return int(converted * SCALE)
