"""Bonus rules: "100:5,500:10" adds 5 % to a deposit of 100 or more and 10 %
to one of 500 or more (amounts in the gateway's currency); the highest
threshold a deposit reaches is the one that applies."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from smmpanel.money import MAX_AMOUNT, MoneyError, parse_exact, plain_decimal
from smmpanel.payments.errors import InvalidGatewaySetting

MAX_RULES = 10


@dataclass(frozen=True)
class BonusRule:
    threshold: Decimal  # major units of the gateway's currency
    percent: Decimal

    def __str__(self) -> str:
        return f"+{plain_decimal(self.percent)}% from {plain_decimal(self.threshold)}"


def parse_bonus_rules(text: str) -> tuple[BonusRule, ...]:
    """The rules of a setting, lowest threshold first; "" is none.
    InvalidGatewaySetting for anything else than THRESHOLD:PERCENT,..."""
    rules: dict[Decimal, BonusRule] = {}
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if len(parts) > MAX_RULES:
        raise InvalidGatewaySetting(f"bonus takes at most {MAX_RULES} rules")
    for part in parts:
        threshold_text, colon, percent_text = part.partition(":")
        if not colon:
            raise InvalidGatewaySetting(
                f"a bonus rule is AMOUNT:PERCENT, like 100:5 (+5% from 100), not {part!r}"
            )
        try:
            threshold = parse_exact(
                threshold_text,
                what="a bonus threshold",
                low=Decimal("0.01"),
                high=MAX_AMOUNT,
                places=2,
            )
            percent = parse_exact(
                percent_text.strip().rstrip("%"),
                what="a bonus percent",
                low=Decimal("0.01"),
                high=Decimal(100),
                places=2,
            )
        except MoneyError as exc:
            raise InvalidGatewaySetting(str(exc)) from None
        if threshold in rules:
            raise InvalidGatewaySetting(f"two bonus rules from {plain_decimal(threshold)}")
        rules[threshold] = BonusRule(threshold, percent)
    return tuple(rules[key] for key in sorted(rules))


def format_bonus_rules(rules: tuple[BonusRule, ...]) -> str:
    return ",".join(f"{plain_decimal(r.threshold)}:{plain_decimal(r.percent)}" for r in rules)


def applicable_rule(rules: tuple[BonusRule, ...], amount: Decimal) -> BonusRule | None:
    """The rule of the highest threshold `amount` reaches, if any."""
    reached = [rule for rule in rules if amount >= rule.threshold]
    return max(reached, key=lambda rule: rule.threshold) if reached else None


def bonus_units(credit_units: int, rule: BonusRule | None) -> int:
    """The bonus on a credit of `credit_units` minor units: percent of it, to
    the minor unit, half up."""
    if rule is None:
        return 0
    exact = Decimal(credit_units) * rule.percent / 100
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
