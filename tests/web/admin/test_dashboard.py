"""The dashboard's figures against a history computed by hand (both databases):
each period's orders, revenue, upstream cost, profit, deposits and new
customers, orders by status, the 30-day chart, what waits for a person,
providers' health and open alerts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from smmpanel.accounts.service import set_currency_rate
from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.orders.models import Order
from smmpanel.providers.catalog_sync_upstream import refresh_upstream_catalog
from smmpanel.simulator.testing import RunningSimulator, running_simulator
from smmpanel.timeutil import utcnow
from smmpanel.web.admin.dashboard import Converter, chart_days, period_figures
from smmpanel.web.admin.dashboard_watch import open_alerts, provider_health, waiting
from tests.fulfilment.conftest import make_relay
from tests.payments.conftest import fake_gateway, fake_installed  # noqa: F401 (fixtures)
from tests.payments.fakes import FakeGateway
from tests.web.admin.dashboard_history import History, make_history


def units(amount: str) -> int:
    """Money as the database keeps it: 0.00001 units."""
    whole, _, fraction = amount.partition(".")
    return int(whole) * 100_000 + int(fraction.ljust(5, "0"))


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(manual_clock=True) as running:
        yield running


@pytest.fixture
def history(db: Database, sim: RunningSimulator, fake_gateway: type[FakeGateway]) -> History:  # noqa: F811
    return make_history(db, sim)


# By hand (dashboard_history.py): base USD, 1 USD = 0.8 EUR; alice USD, bob EUR.
# today:     o1 alice 1000 x 2.00 = 2.00 Completed                      revenue 2.00 USD
#            o2 bob 500 x 1.60 EUR = 0.80, Partial 100 left: -0.16       revenue 0.64 EUR
#            o3 alice 1000 x 1.50 = 1.50, forwarded, Completed           revenue 1.50, cost 0.90
#            o4 alice 2000 x 1.50 = 3.00, forwarded, Partial 500: -0.75  revenue 2.25, cost 1.35
#            o5 bob 100 x 1.60 EUR = 0.16, Canceled: -0.16               revenue 0
#            o9 alice 100 x 1.50 = 0.15, refused (no funds), Pending    revenue 0.15, cost 0
#            carol's deposit 50.00 USD; carol signed up
# yesterday: o6 alice 3000 x 2.00 = 6.00, Pending                        revenue 6.00; bob signed up
# 10 days:   o7 bob 1000 x 1.20 EUR = 1.20, forwarded, Completed         revenue 1.20 EUR, cost 0.90
#            dave's deposit 20 USD = 16.00 EUR; dave signed up
# 40 days:   o8 alice 2.00 Completed; alice signed up                    (outside every period)
TODAY_USD = units("2.00") + units("1.50") + units("2.25") + units("0.15")
TODAY_EUR = units("0.64")
TODAY_REVENUE = TODAY_USD + units("0.80")  # 5.90 USD + 0.64 EUR / 0.8
TODAY_COST = units("0.90") + units("1.35")


def test_today(db: Database, history: History) -> None:
    now = history.midnight + timedelta(hours=12)
    with db.read() as session:
        f = period_figures(session, now=now, days=1)
    assert (f.start, f.end) == (history.midnight, history.midnight + timedelta(days=1))
    assert f.orders == 6
    assert f.by_status == {"Completed": 2, "Partial": 2, "Canceled": 1, "Pending": 1}
    assert f.revenue.by_currency == {"USD": TODAY_USD, "EUR": TODAY_EUR}
    assert f.revenue.base == TODAY_REVENUE == units("6.70")
    assert f.cost.base == TODAY_COST == units("2.25")
    assert f.cost.by_currency == {"USD": TODAY_COST}
    assert f.profit == units("4.45")
    assert (f.deposits.base, f.deposit_count) == (units("50.00"), 1)
    assert f.new_customers == 1
    assert f.revenue.unconverted == f.cost.unconverted == f.deposits.unconverted == ()


def test_seven_and_thirty_days(db: Database, history: History) -> None:
    now = history.midnight + timedelta(hours=12)
    with db.read() as session:
        week = period_figures(session, now=now, days=7)
        month = period_figures(session, now=now, days=30)
    assert week.start == history.midnight - timedelta(days=6)
    assert (week.orders, week.new_customers) == (7, 2)
    assert week.revenue.base == TODAY_REVENUE + units("6.00")
    assert (week.cost.base, week.profit) == (TODAY_COST, units("10.45"))
    assert week.by_status["Pending"] == 2
    assert (week.deposits.base, week.deposit_count) == (units("50.00"), 1)

    assert month.start == history.midnight - timedelta(days=29)
    assert (month.orders, month.new_customers) == (8, 3)
    assert month.revenue.by_currency == {
        "USD": TODAY_USD + units("6.00"),
        "EUR": TODAY_EUR + units("1.20"),
    }
    assert month.revenue.base == units("14.20")  # 11.90 USD + 1.84 EUR / 0.8
    assert month.cost.base == TODAY_COST + units("0.90")
    assert month.profit == units("11.05")
    assert month.deposits.by_currency == {"USD": units("50.00"), "EUR": units("16.00")}
    assert (month.deposits.base, month.deposit_count) == (units("70.00"), 2)


def test_chart_per_day(db: Database, history: History) -> None:
    now = history.midnight + timedelta(hours=12)
    with db.read() as session:
        if not db.is_sqlite:
            # A connection in a time zone 14 hours ahead still counts UTC days.
            session.execute(text("SET LOCAL TIME ZONE 'Pacific/Kiritimati'"))
            assert session.scalar(text("SELECT date(timestamptz '2026-01-01 12:00Z')")) != (
                date(2026, 1, 1)
            )
        days = chart_days(session, now=now)
    assert len(days) == 30
    assert days[0].day == (history.midnight - timedelta(days=29)).date()
    assert days[-1].day == history.midnight.date()
    busy = {day.day: (day.orders, day.revenue, day.profit) for day in days if day.orders}
    today = history.midnight.date()
    assert busy == {
        today: (6, units("6.70"), units("4.45")),
        today - timedelta(days=1): (1, units("6.00"), units("6.00")),
        today - timedelta(days=10): (1, units("1.50"), units("0.60")),
    }
    assert sum(day.revenue for day in days) == units("14.20")


def test_what_waits_providers_and_alerts(db: Database, history: History) -> None:
    now = history.midnight + timedelta(hours=12)
    with db.read() as session:
        wait = waiting(session, now=now)
        [sim_health] = provider_health(session, now=now)
        alerts, total = open_alerts(session)
    # o6 has not changed since yesterday's midnight (36 hours); o9 for 12.
    assert (wait.stuck, wait.reconcile, wait.failed) == (1, 0, 0)
    assert (wait.held_deposits, wait.refills, wait.cancels) == (1, 0, 0)
    assert sim_health.name == "sim" and sim_health.paused
    assert "not_enough_funds" in sim_health.paused_reason
    assert (sim_health.errors, sim_health.open_orders) == (1, 0)
    assert "funds" in sim_health.last_error.lower()
    assert sim_health.balance is not None and sim_health.balance_checked_at is not None
    kinds = sorted(alert.kind for alert in alerts)
    assert kinds == ["deposit_held", "provider_paused"] and total == 2


def test_a_day_later_the_errors_are_old_and_today_is_empty(db: Database, history: History) -> None:
    later = history.midnight + timedelta(days=3)
    with db.read() as session:
        f = period_figures(session, now=later, days=1)
        [sim_health] = provider_health(session, now=later)
    assert (f.orders, f.revenue.base, f.cost.base, f.new_customers) == (0, 0, 0, 0)
    assert sim_health.errors == 0


def test_conversion_rounds_each_currency_total_once_half_up(db: Database) -> None:
    set_currency_rate(db, code="RUB", rate="3", actor=Actor("cli", "owner"))
    with db.read() as session:
        money = Converter(session)
        # 1.00000 RUB = 0.333333... USD -> 0.33333; 2.00000 -> 0.666666... -> 0.66667
        assert money.to_base(units("1"), "RUB") == 33_333
        assert money.to_base(units("2"), "RUB") == 66_667
        total = money.amount([("RUB", units("1")), ("RUB", units("1")), ("USD", 5), (None, 1)])
        assert total.by_currency == {"RUB": units("2"), "USD": 6}
        assert total.base == 66_667 + 6  # not 33_333 twice
        assert money.to_base(units("1"), "XYZ") is None
        unknown = money.amount([("XYZ", 100), ("USD", 7)])
        assert (unknown.base, unknown.unconverted) == (7, ("XYZ",))


def test_a_drip_feed_counts_once_and_costs_its_runs(
    db: Database, sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMMPANEL_DRIPFEED_SECONDS", "0")  # runs are made on every pass
    relay = make_relay(db, sim, dripfeed=True)  # rate 0.90; upstream service 1 at 0.90
    refresh_upstream_catalog(db, provider_name="sim")
    parent = relay.order("https://x.com/drip", quantity=100, runs="2", interval="10")
    relay.run()
    with db.write() as session:  # the second run is due now, not in 10 minutes
        row = session.get(Order, parent)
        assert row is not None and row.next_run_at is not None
        row.next_run_at = utcnow() - timedelta(seconds=1)
    relay.run()
    with db.read() as session:
        runs = session.scalars(select(Order).where(Order.parent_id == parent)).all()
        assert [run.provider_order_id is not None for run in runs] == [True, True]
        f = period_figures(session, now=utcnow(), days=1)
    assert f.orders == 1  # the customer's order, not its runs
    assert f.revenue.base == units("0.18")  # 2 runs x 100 x 0.90 / 1000, charged at placing
    assert f.cost.base == units("0.18")  # each run: 100 x 0.90 / 1000 upstream
    assert f.profit == 0
