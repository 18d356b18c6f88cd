"""The admin dashboard's figures: read-only queries over orders, the ledger,
accounts, deposits and providers.

Why here, in the admin edge (``smmpanel.web.admin``): the figures read five
contexts at once (orders, ledger, accounts, payments, providers).  The
import-linter layers let no context import one above it (``smmpanel.panel``
sits below orders and the ledger), while the web edge may import them all; no
command writes through this module, so it adds no path around the domain.

Definitions (every period is whole UTC days, [first midnight, next midnight)):

- orders: orders placed (top-level rows: drip-feed runs and subscription posts
  are children of the order the customer placed and are not counted again);
- revenue: what the ledger charged minus what it refunded (entries of kind
  ``charge`` and ``refund``, dated when posted);
- upstream cost: the panel stores no upstream charge per order, so it is
  *estimated*: for each order a provider accepted (drip-feed runs included,
  subscriptions left out), the units the provider bills (all of them, the
  delivered ones of a Partial, none of a Canceled) at the rate of the mapped
  upstream service as last synced, in the provider's currency;
- profit: revenue - cost;
- deposits: the ledger's deposit credits (cause ``deposit:<id>``; bonuses and
  reversals apart);
- new customers: accounts created.

Money is summed per currency in SQL and each currency's total is converted to
the base currency once, at the panel's current rate (``currencies``), rounded
half up to the 5 places of money.  A currency without a rate is left out of
the base total and named (``Amount.unconverted``), never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session

from smmpanel.accounts.models import Account
from smmpanel.catalog.models import ServiceSource
from smmpanel.ledger.models import CHARGE, REFUND, LedgerEntry
from smmpanel.money import QUANTUM, SCALE
from smmpanel.orders.models import CANCELED, KIND_SUBSCRIPTION, PARTIAL, Order
from smmpanel.panel.settings import get_setting
from smmpanel.providers.catalog_sync_upstream import exchange_rate
from smmpanel.providers.models import Provider, UpstreamService
from smmpanel.timeutil import as_utc

# The periods the page offers: name -> whole UTC days, today included.
PERIODS: dict[str, int] = {"today": 1, "7d": 7, "30d": 30}
CHART_DAYS = 30


@dataclass(frozen=True)
class Amount:
    """A sum of money: per currency (minor units) and in the base currency."""

    base: int
    by_currency: dict[str, int] = field(default_factory=dict)
    unconverted: tuple[str, ...] = ()


@dataclass(frozen=True)
class Figures:
    """One period's figures."""

    start: datetime
    end: datetime
    orders: int
    revenue: Amount
    cost: Amount
    profit: int  # base currency minor units: revenue.base - cost.base
    deposits: Amount
    deposit_count: int
    new_customers: int
    by_status: dict[str, int]


@dataclass(frozen=True)
class ChartDay:
    day: date
    orders: int
    revenue: int  # base currency minor units
    profit: int


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def period_bounds(now: datetime, days: int) -> tuple[datetime, datetime]:
    """[midnight `days`-1 days before today, next midnight), UTC."""
    today = as_utc(now).date()
    return day_start(today - timedelta(days=days - 1)), day_start(today + timedelta(days=1))


# --- money in the base currency ----------------------------------------------------------


class Converter:
    """Each currency's rate, looked up once per request."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.base = get_setting(session, "base_currency")
        self._rates: dict[str, Decimal | None] = {}

    def rate(self, code: str) -> Decimal | None:
        if code not in self._rates:
            self._rates[code] = exchange_rate(self.session, code)
        return self._rates[code]

    def to_base(self, units: int, code: str) -> int | None:
        """`units` of `code` in base minor units (half up), None without a rate."""
        rate = self.rate(code)
        if rate is None:
            return None
        value = (Decimal(units) / SCALE / rate).quantize(QUANTUM, rounding=ROUND_HALF_UP)
        return int(value * SCALE)

    def amount(self, totals: Iterable[tuple[str | None, Any]]) -> Amount:
        by_currency: dict[str, int] = {}
        for code, units in totals:
            key = code or self.base
            by_currency[key] = by_currency.get(key, 0) + int(units or 0)
        base, unconverted = 0, []
        for code, units in sorted(by_currency.items()):
            converted = self.to_base(units, code)
            if converted is None:
                unconverted.append(code)
            else:
                base += converted
        return Amount(base, by_currency, tuple(unconverted))


# --- the days' totals: one grouped query a table ------------------------------------------


def _between(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return (column >= start) & (column < end)


def utc_day(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, as the database computes it.
    SQLite keeps UTC text (its date() reads it); PostgreSQL's date() of a
    timestamptz would use the connection's time zone, so it is taken at UTC."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _day_key(value: Any) -> str:
    """A day as the database answers it (a date on PostgreSQL, text on SQLite)."""
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def billed_units() -> ColumnElement[Any]:
    """The units a provider charges for an order: none of a Canceled one, the
    delivered ones of a Partial, all the others (charged when accepted)."""
    return case(
        (Order.status == CANCELED, 0),
        (Order.status == PARTIAL, Order.total_quantity - Order.remains),
        else_=Order.total_quantity,
    )


Nested = dict[str, dict[str, int]]  # day -> (status or currency) -> a count or units


@dataclass(frozen=True)
class Daily:
    """Totals per UTC day of the `days` days up to today (keys: ISO dates),
    read once and sliced for a period and for the chart."""

    first: date
    days: int
    orders: Nested  # day -> status -> orders placed
    revenue: Nested  # day -> account currency -> charges minus refunds
    cost: Nested  # day -> provider currency -> upstream rate (per 1000) x billed units
    deposits: Nested  # day -> account currency -> deposit credits
    deposit_count: dict[str, int]
    customers: dict[str, int]

    def keys(self, last: int) -> list[str]:
        """The last `last` days' keys, oldest first."""
        return [(self.first + timedelta(days=n)).isoformat() for n in range(self.days)][-last:]


def _nested(rows: Iterable[Any]) -> Nested:
    result: Nested = {}
    for day, key, value in rows:
        inner = result.setdefault(_day_key(day), {})
        inner[key or ""] = inner.get(key or "", 0) + int(value or 0)
    return result


def read_daily(session: Session, *, now: datetime, days: int = CHART_DAYS) -> Daily:
    start, end = period_bounds(now, days)
    order_day = utc_day(session, Order.created_at)
    entry_day = utc_day(session, LedgerEntry.created_at)
    placed = _between(Order.created_at, start, end) & Order.parent_id.is_(None)
    in_range = _between(LedgerEntry.created_at, start, end)
    orders = session.execute(
        select(order_day, Order.status, func.count(Order.id))
        .where(placed)
        .group_by(order_day, Order.status)
    )
    revenue = session.execute(
        select(entry_day, Account.currency, -func.sum(LedgerEntry.amount))
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(LedgerEntry.kind.in_((CHARGE, REFUND)), in_range)
        .group_by(entry_day, Account.currency)
    )
    deposits = session.execute(
        select(entry_day, Account.currency, func.sum(LedgerEntry.amount), func.count())
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(LedgerEntry.cause.like("deposit:%"), in_range)
        .group_by(entry_day, Account.currency)
    ).all()
    account_day = utc_day(session, Account.created_at)
    customers = session.execute(
        select(account_day, func.count(Account.id))
        .where(_between(Account.created_at, start, end))
        .group_by(account_day)
    )
    deposit_count: dict[str, int] = {}
    for day, _, _, count in deposits:
        deposit_count[_day_key(day)] = deposit_count.get(_day_key(day), 0) + int(count)
    return Daily(
        first=start.date(),
        days=days,
        orders=_nested(orders),
        revenue=_nested(revenue),
        cost=_nested(session.execute(_cost_query(session, start, end))),
        deposits=_nested((day, code, total) for day, code, total, _ in deposits),
        deposit_count=deposit_count,
        customers={_day_key(day): int(count) for day, count in customers},
    )


def _cost_query(session: Session, start: datetime, end: datetime) -> Select[Any, str | None, int]:
    """Upstream rate (per 1000) x billed units per day and provider currency, for
    the orders a provider accepted (subscriptions apart: their posts' cost is
    not known per post)."""
    order_day = utc_day(session, Order.created_at)
    return (
        select(order_day, Provider.currency, func.sum(UpstreamService.rate * billed_units()))
        .select_from(Order)
        .join(Provider, Provider.id == Order.provider_id)
        .join(
            ServiceSource,
            (ServiceSource.service_id == Order.service_id)
            & (ServiceSource.provider_id == Order.provider_id),
        )
        .join(
            UpstreamService,
            (UpstreamService.provider_id == ServiceSource.provider_id)
            & (UpstreamService.upstream_id == ServiceSource.upstream_service_id),
        )
        .where(
            Order.provider_order_id.is_not(None),
            Order.kind != KIND_SUBSCRIPTION,
            _between(Order.created_at, start, end),
        )
        .group_by(order_day, Provider.currency)
    )


def _thousandth(total: Any) -> int:
    """A sum of rate (per 1000) x units in minor units, rounded half up once."""
    return int((Decimal(int(total or 0)) / 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _summed(by_day: Nested, keys: Iterable[str]) -> dict[str, int]:
    total: dict[str, int] = {}
    for key in keys:
        for inner, value in by_day.get(key, {}).items():
            total[inner] = total.get(inner, 0) + value
    return total


# --- a period, the chart ------------------------------------------------------------------


def figures_of(daily: Daily, money: Converter, *, days: int) -> Figures:
    """The last `days` days of `daily`: each currency's total over the period
    converted once (the cost divided by 1000 once too)."""
    keys = daily.keys(days)
    by_status = {k: v for k, v in _summed(daily.orders, keys).items() if v}
    revenue = money.amount(_summed(daily.revenue, keys).items())
    raw_cost = _summed(daily.cost, keys)
    cost = money.amount((code, _thousandth(total)) for code, total in raw_cost.items())
    start = day_start(date.fromisoformat(keys[0]))
    return Figures(
        start=start,
        end=day_start(date.fromisoformat(keys[-1]) + timedelta(days=1)),
        orders=sum(by_status.values()),
        revenue=revenue,
        cost=cost,
        profit=revenue.base - cost.base,
        deposits=money.amount(_summed(daily.deposits, keys).items()),
        deposit_count=sum(daily.deposit_count.get(key, 0) for key in keys),
        new_customers=sum(daily.customers.get(key, 0) for key in keys),
        by_status=by_status,
    )


def chart_of(daily: Daily, money: Converter) -> list[ChartDay]:
    """Orders placed, revenue and profit (base currency) per day, oldest first;
    each day's currency totals converted once; a currency without a rate counts
    nothing (the period's figures name it)."""

    def base(by_currency: dict[str, int]) -> int:
        return sum(money.to_base(units, code) or 0 for code, units in by_currency.items())

    result = []
    for key in daily.keys(daily.days):
        earned = base(daily.revenue.get(key, {}))
        raw_cost = daily.cost.get(key, {})
        spent = base({code: _thousandth(total) for code, total in raw_cost.items()})
        orders = sum(daily.orders.get(key, {}).values())
        result.append(ChartDay(date.fromisoformat(key), orders, earned, earned - spent))
    return result


def period_figures(session: Session, *, now: datetime, days: int) -> Figures:
    daily = read_daily(session, now=now, days=max(days, CHART_DAYS))
    return figures_of(daily, Converter(session), days=days)


def chart_days(session: Session, *, now: datetime, days: int = CHART_DAYS) -> list[ChartDay]:
    return chart_of(read_daily(session, now=now, days=days), Converter(session))
