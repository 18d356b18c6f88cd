"""A known history for the dashboard's tests, made through the domain's
commands (orders placed, forwarded to a simulated provider, completed, partly
refunded, canceled; deposits paid and held), then dated by UPDATEs of the
timestamps only: nothing in the domain places an order in the past.

Base USD; EUR at 0.8 EUR per USD.  The figures each test expects are
computed by hand in the test, from the amounts written here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import update

from smmpanel.accounts.models import Account
from smmpanel.accounts.service import set_currency_rate
from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.jobs.errors import RetryLater
from smmpanel.ledger.models import LedgerEntry
from smmpanel.orders.models import Order
from smmpanel.orders.service import update_order
from smmpanel.payments.crediting import apply_gateway_event
from smmpanel.payments.gateway import EventKind
from smmpanel.providers.catalog_sync_upstream import (
    fetch_provider_balance,
    refresh_upstream_catalog,
)
from smmpanel.providers.forwarding import forward_order
from smmpanel.simulator.testing import RunningSimulator
from tests.factories import make_backed_service, make_customer, make_order, make_provider
from tests.factories import make_service as make_manual_service
from tests.payments.fakes import event
from tests.payments.helpers import start

OWNER = Actor("cli", "owner")


@dataclass(frozen=True)
class History:
    midnight: datetime  # today, 00:00 UTC
    orders: dict[str, int]  # name in the test -> order id


def today_midnight() -> datetime:
    return datetime.combine(datetime.now(UTC).date(), time(0), tzinfo=UTC)


def _forwarded(db: Database, order_id: int) -> int:
    forward_order(db, {"order_id": order_id})
    return order_id


def _pay(db: Database, deposit_id: int, amount: str) -> str:
    paid = event(EventKind.PAID, deposit_id, amount, "USD", event_id=f"evt_{deposit_id}")
    outcome = apply_gateway_event(db, gateway="fake", event=paid, actor=Actor("gateway", "fake"))
    return outcome.result


def make_history(db: Database, sim: RunningSimulator) -> History:
    set_currency_rate(db, code="EUR", rate="0.8", actor=OWNER)
    alice = make_customer(db, "alice", balance="100")  # USD
    bob = make_customer(db, "bob", balance="100", currency="EUR")
    carol = make_customer(db, "carol", balance="0")
    dave = make_customer(db, "dave", balance="0", currency="EUR")
    manual = make_manual_service(db, name="By hand", rate="2.00")  # EUR accounts: 1.60
    provider = make_provider(db, sim, "sim")
    refresh_upstream_catalog(db, provider_name=provider)  # upstream service 1: 0.90 USD
    fetch_provider_balance(db, provider_name=provider)
    backed = make_backed_service(db, provider, name="Forwarded", rate="1.50")  # EUR: 1.20

    o = {
        # today
        "o1": make_order(db, alice, manual, quantity=1000, link="https://x.com/1"),
        "o2": make_order(db, bob, manual, quantity=500, link="https://x.com/2"),
        "o3": _forwarded(db, make_order(db, alice, backed, quantity=1000, link="https://x.com/3")),
        "o4": _forwarded(db, make_order(db, alice, backed, quantity=2000, link="https://x.com/4")),
        "o5": make_order(db, bob, manual, quantity=100, link="https://x.com/5"),
        # yesterday, left Pending (stuck)
        "o6": make_order(db, alice, manual, quantity=3000, link="https://x.com/6"),
        # ten days ago
        "o7": _forwarded(db, make_order(db, bob, backed, quantity=1000, link="https://x.com/7")),
        # forty days ago
        "o8": make_order(db, alice, manual, quantity=1000, link="https://x.com/8"),
    }
    update_order(db, order_id=o["o1"], status="Completed", actor=OWNER)
    update_order(db, order_id=o["o2"], status="Partial", remains=100, actor=OWNER)
    update_order(db, order_id=o["o3"], status="Completed", actor=OWNER)
    update_order(db, order_id=o["o4"], status="Partial", remains=500, actor=OWNER)
    update_order(db, order_id=o["o5"], status="Canceled", actor=OWNER)
    update_order(db, order_id=o["o7"], status="Completed", actor=OWNER)
    update_order(db, order_id=o["o8"], status="Completed", actor=OWNER)
    # The provider runs out of funds on the next order: it is paused (an alert),
    # the refused call is its one recent error, and the order waits, Pending.
    sim.control.add_fault("no_funds:next=1")
    o["o9"] = make_order(db, alice, backed, quantity=100, link="https://x.com/9")
    with pytest.raises(RetryLater, match="paused: sim"):
        _forwarded(db, o["o9"])  # the job would try again later

    carol_paid = start(db, carol.id, "50")
    assert _pay(db, carol_paid, "50.00") == "credited"
    dave_paid = start(db, dave.id, "20")  # 20 USD credits 16 EUR
    assert _pay(db, dave_paid, "20.00") == "credited"
    held = start(db, carol.id, "30")
    assert _pay(db, held, "29.99") == "held"

    midnight = today_midnight()
    days = {"today": 0, "yesterday": 1, "ten": 10, "forty": 40}
    when = {name: midnight - timedelta(days=n) for name, n in days.items()}
    order_days = {"o1": "today", "o2": "today", "o3": "today", "o4": "today", "o5": "today"}
    order_days |= {"o6": "yesterday", "o7": "ten", "o8": "forty", "o9": "today"}
    with db.write() as session:
        for name, day in order_days.items():
            at = when[day]
            session.execute(
                update(Order).where(Order.id == o[name]).values(created_at=at, updated_at=at)
            )
            session.execute(
                update(LedgerEntry).where(LedgerEntry.order_id == o[name]).values(created_at=at)
            )
        for cause, day in ((f"deposit:{carol_paid}", "today"), (f"deposit:{dave_paid}", "ten")):
            session.execute(
                update(LedgerEntry).where(LedgerEntry.cause == cause).values(created_at=when[day])
            )
        accounts = {alice.id: "forty", bob.id: "yesterday", carol.id: "today", dave.id: "ten"}
        for account_id, day in accounts.items():
            session.execute(
                update(Account).where(Account.id == account_id).values(created_at=when[day])
            )
    return History(midnight, o)
