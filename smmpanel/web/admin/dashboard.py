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


# --- one period --------------------------------------------------------------------------


def _between(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return (column >= start) & (column < end)


def _revenue_query(start: datetime, end: datetime) -> Select[str, int]:
    """-(charges + refunds) per account currency: charges are negative entries."""
    return (
        select(Account.currency, -func.sum(LedgerEntry.amount))
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(LedgerEntry.kind.in_((CHARGE, REFUND)), _between(LedgerEntry.created_at, start, end))
        .group_by(Account.currency)
    )


def _deposits_query(start: datetime, end: datetime) -> Select[str, int, int]:
    return (
        select(Account.currency, func.sum(LedgerEntry.amount), func.count(LedgerEntry.id))
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(LedgerEntry.cause.like("deposit:%"), _between(LedgerEntry.created_at, start, end))
        .group_by(Account.currency)
    )


def billed_units() -> ColumnElement[Any]:
    """The units a provider charges for an order: none of a Canceled one, the
    delivered ones of a Partial, all the others (charged when accepted)."""
    return case(
        (Order.status == CANCELED, 0),
        (Order.status == PARTIAL, Order.total_quantity - Order.remains),
        else_=Order.total_quantity,
    )


def _cost_query(start: datetime, end: datetime) -> Select[str | None, int]:
    """Sum of upstream rate (per 1000) x billed units, per provider currency;
    divided by 1000 once per currency by the caller."""
    return (
        select(Provider.currency, func.sum(UpstreamService.rate * billed_units()))
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
        .group_by(Provider.currency)
    )


def _thousandth(total: Any) -> int:
    """A sum of rate (per 1000) x units in minor units, rounded half up once."""
    return int((Decimal(int(total or 0)) / 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def period_figures(session: Session, *, now: datetime, days: int) -> Figures:
    start, end = period_bounds(now, days)
    money = Converter(session)
    placed = _between(Order.created_at, start, end) & Order.parent_id.is_(None)
    by_status = {
        status: count
        for status, count in session.execute(
            select(Order.status, func.count(Order.id)).where(placed).group_by(Order.status)
        )
    }
    revenue = money.amount(session.execute(_revenue_query(start, end)))
    cost = money.amount(
        (code, _thousandth(total)) for code, total in session.execute(_cost_query(start, end))
    )
    deposit_rows = session.execute(_deposits_query(start, end)).all()
    deposits = money.amount((code, total) for code, total, _ in deposit_rows)
    new_customers = session.scalar(
        select(func.count(Account.id)).where(_between(Account.created_at, start, end))
    )
    return Figures(
        start=start,
        end=end,
        orders=sum(by_status.values()),
        revenue=revenue,
        cost=cost,
        profit=revenue.base - cost.base,
        deposits=deposits,
        deposit_count=sum(int(count) for _, _, count in deposit_rows),
        new_customers=int(new_customers or 0),
        by_status=by_status,
    )


# --- the chart: per UTC day ---------------------------------------------------------------


def utc_day(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, as the database computes it.
    SQLite keeps UTC text (its date() reads it); PostgreSQL's date() of a
    timestamptz would use the session's time zone, so it is taken at UTC."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _day_key(value: Any) -> str:
    """A day as the database answers it (a date on PostgreSQL, text on SQLite)."""
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def chart_days(session: Session, *, now: datetime, days: int = CHART_DAYS) -> list[ChartDay]:
    """Orders placed, revenue and profit (base currency) of each of the last `days`
    UTC days, oldest first; a currency without a rate counts nothing."""
    start, end = period_bounds(now, days)
    money = Converter(session)
    order_day = utc_day(session, Order.created_at)
    orders = {
        _day_key(day): int(count)
        for day, count in session.execute(
            select(order_day, func.count(Order.id))
            .where(_between(Order.created_at, start, end), Order.parent_id.is_(None))
            .group_by(order_day)
        )
    }
    entry_day = utc_day(session, LedgerEntry.created_at)
    revenue = _per_day(
        money,
        (
            (day, code, total)
            for code, total, day in session.execute(
                _revenue_query(start, end).add_columns(entry_day).group_by(entry_day)
            )
        ),
    )
    cost_rows = session.execute(_cost_query(start, end).add_columns(order_day).group_by(order_day))
    cost = _per_day(money, ((day, code, _thousandth(total)) for code, total, day in cost_rows))
    result = []
    for offset in range(days):
        day = start.date() + timedelta(days=offset)
        key = day.isoformat()
        earned = revenue.get(key, 0)
        result.append(ChartDay(day, orders.get(key, 0), earned, earned - cost.get(key, 0)))
    return result


def _per_day(money: Converter, rows: Iterable[tuple[Any, str | None, Any]]) -> dict[str, int]:
    """Base-currency totals per day: each day's currency totals converted once."""
    totals: dict[str, int] = {}
    for day, code, units in rows:
        converted = money.to_base(int(units or 0), code or money.base)
        if converted is not None:
            key = _day_key(day)
            totals[key] = totals.get(key, 0) + converted
    return totals
